"""Every built-in policy ships with cases, and they all pass; the runner itself can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tripwire.errors import InputError, PolicyError
from tripwire.policy import builtin_names, run_tests
from tripwire.policy.testing import locate_tests

BUILTINS = Path(__file__).resolve().parents[2] / "src" / "tripwire" / "policy" / "builtins"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_policy_tests_pass(name):
    run = run_tests(name)
    assert len(run.cases) >= 4
    failed = [(c.name, c.failures) for c in run.cases if not c.passed]
    assert not failed


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_has_an_insufficient_case(name):
    """Each built-in shows that missing evidence is reported, never passed."""
    text = (BUILTINS / f"{name}.tests.yaml").read_text("utf-8")
    assert "insufficient" in text


def test_a_wrong_expectation_fails_with_the_reason(tmp_path: Path):
    shutil.copy(BUILTINS / "eu-ai-act-gpai.yaml", tmp_path / "eu.yaml")
    (tmp_path / "eu.tests.yaml").write_text(
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    model: {name: m, compute_flop: 3.8e+25, compute_method: given}\n"
        "    expect:\n"
        "      level: GPAI\n"
        "      states: {systemic-risk-presumption: clear, nope: clear}\n"
        "      allowed: [train, deploy]\n", encoding="utf-8")
    run = run_tests(str(tmp_path / "eu.yaml"))
    (case,) = run.cases
    assert not case.passed and case.line == 2
    text = " | ".join(case.failures)
    assert "level: expected GPAI, got GPAI-systemic-risk" in text
    assert "expected clear, got crossed" in text
    assert "threshold nope: not in the policy" in text
    assert "allowed: expected" in text
    # the tests file itself can be named too
    assert not run_tests(str(tmp_path / "eu.tests.yaml")).passed


def test_malformed_tests_file_points_at_the_place(tmp_path: Path):
    shutil.copy(BUILTINS / "ca-sb53.yaml", tmp_path / "p.yaml")
    (tmp_path / "p.tests.yaml").write_text(
        "cases:\n  - name: x\n    model: {name: m}\n    expect: {states: {frontier-model: maybe}}\n",
        encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        run_tests(str(tmp_path / "p.yaml"))
    assert ":4:" in str(e.value) and "p.tests.yaml" in str(e.value)


def test_a_tests_file_error_stays_on_one_line(tmp_path: Path):
    """A key or value quoted from the tests file has its line breaks escaped."""
    shutil.copy(BUILTINS / "ca-sb53.yaml", tmp_path / "p.yaml")
    (tmp_path / "p.tests.yaml").write_text(
        'cases:\n  - name: x\n    model: {name: m, compute_flop: 2.0e+26, compute_method: given}\n'
        '    expect: {level: frontier-model}\n    "exp\\nect": 1\n', encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        run_tests(str(tmp_path / "p.yaml"))
    assert len(str(e.value).splitlines()) == 1 and "exp\\nect" in str(e.value), str(e.value)


def test_tests_can_name_a_builtin_policy(tmp_path: Path):
    (tmp_path / "mine.tests.yaml").write_text(
        "policy: ca-sb53\ncases:\n  - name: big\n"
        "    model: {name: m, compute_flop: 2.0e+26, compute_method: given}\n"
        "    expect: {level: frontier-model}\n", encoding="utf-8")
    assert run_tests(str(tmp_path / "mine.tests.yaml")).passed


def test_missing_tests_and_unknown_names(tmp_path: Path):
    shutil.copy(BUILTINS / "ca-sb53.yaml", tmp_path / "lonely.yaml")
    with pytest.raises(InputError, match="no tests beside"):
        locate_tests(str(tmp_path / "lonely.yaml"))
    with pytest.raises(InputError, match="ca-sb53"):
        run_tests("ca-sb35")
