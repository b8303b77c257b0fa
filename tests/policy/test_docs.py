"""The examples in docs/policies.md are real: the policy validates and its test case passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tripwire.policy import check_text, run_tests

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def _yaml_blocks() -> list[str]:
    if not DOC.exists():
        pytest.skip(f"{DOC} not found")
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)


def test_documented_policy_and_its_case(tmp_path: Path):
    policy, tests = _yaml_blocks()[:2]
    loaded, issues = check_text(policy, "house-rsp.yaml")
    assert loaded is not None, [str(i) for i in issues]
    (tmp_path / "house-rsp.yaml").write_text(policy, encoding="utf-8")
    (tmp_path / "house-rsp.tests.yaml").write_text(tests, encoding="utf-8")
    run = run_tests(str(tmp_path / "house-rsp.yaml"))
    assert run.passed, [c.failures for c in run.cases]


def test_documented_error_format_is_what_the_loader_prints(tmp_path: Path):
    policy = _yaml_blocks()[0].replace('score("bio_uplift") >= bio_bar',
                                       'score("bio_uplift") >= bio_bar && true')
    _, issues = check_text(policy, "house.yaml")
    assert re.match(r"house\.yaml:\d+:\d+: condition: '&&' is not an operator here — write 'and'",
                    str(issues[0]))
