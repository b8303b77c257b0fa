"""Policy files: every fault is reported as file:line:col: what — fix."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tripwire.errors import InputError, PolicyError
from tripwire.policy.loader import (
    builtin_names,
    builtin_text,
    check_text,
    compile_policy,
    load_policy,
)

BASE = textwrap.dedent("""\
    name: demo
    version: "1"
    levels:
      - id: L1
      - id: L2
        requires: {deploy: [filters]}
    safeguards:
      - id: filters
    evidence:
      bio: {benchmark: vct}
    parameters:
      bar: {value: 0.3}
    thresholds:
      - id: t1
        level: L2
        condition: score("bio") >= bar
    """)

ISSUE = re.compile(r"^[^:]+:\d+:\d+: .+ — .+$")


def errors(text: str, **kw):
    loaded, issues = check_text(text, "p.yaml", **kw)
    errs = [i for i in issues if i.severity == "error"]
    for i in issues:
        assert ISSUE.match(str(i)), str(i)
    return loaded, errs, [i for i in issues if i.severity == "warning"]


def test_valid_policy_loads_with_identity():
    loaded, errs, warns = errors(BASE)
    assert not errs and not warns
    assert loaded.name == "demo" and loaded.version == "1" and len(loaded.sha256) == 64
    assert loaded.parameters == {"bar": 0.3}
    assert loaded.benchmark_for("bio") == "vct"
    assert loaded.benchmark_for("bio", {"bio": "mine"}) == "mine"
    assert loaded.benchmark_for("other") == "other"


def test_yaml_syntax_error_has_position():
    _, errs, _ = errors(BASE.replace("  - id: L1\n", "  - id: L1\n   bad: [\n"))
    assert errs and errs[0].message.startswith("YAML:")
    assert errs[0].line >= 4


def test_schema_errors_point_at_the_field():
    text = BASE.replace("version: \"1\"\n", "version: \"1\"\nconfidence: 0.3\ncolour: red\n")
    _, errs, _ = errors(text)
    where = {(e.line, e.col): e.message for e in errs}
    assert any("confidence" in m for m in where.values())
    assert (3, 13) in where  # the value 0.3
    assert (4, 1) in where and "colour" in where[(4, 1)]  # the unknown key itself
    assert all(" — " in str(e) for e in errs)


def test_missing_required_field():
    _, errs, _ = errors(BASE.replace("version: \"1\"\n", ""))
    assert any("version" in e.message and "add it" in e.fix for e in errs)


def test_dangling_references_and_duplicates():
    text = BASE.replace("level: L2", "level: L3").replace("[filters]", "[filtres]")
    text = text.replace("  - id: L1\n", "  - id: L1\n  - id: L1\n")
    _, errs, _ = errors(text)
    msgs = " | ".join(str(e) for e in errs)
    assert "level id 'L1' is used twice" in msgs
    assert "requires safeguard 'filtres', which is not declared" in msgs
    assert "did you mean filters" in msgs
    assert "triggers level 'L3', which is not a level" in msgs


def test_duplicate_yaml_keys_are_errors():
    _, errs, _ = errors(BASE + "name: again\n")
    assert any("appears twice" in e.message and e.line == 17 for e in errs)


def test_expression_error_column_single_line():
    text = BASE.replace('score("bio") >= bar', 'score("bio") >= bar &&  true')
    _, errs, _ = errors(text)
    (e,) = errs
    line = text.splitlines()[e.line - 1]
    assert line[e.col - 1:e.col + 1] == "&&"
    assert "write 'and'" in e.fix


def test_expression_error_column_quoted_and_block():
    quoted = BASE.replace('condition: score("bio") >= bar',
                          "condition: 'score(\"bio\") >= barr'")
    _, errs, _ = errors(quoted)
    line = quoted.splitlines()[errs[0].line - 1]
    assert line[errs[0].col - 1:].startswith("barr") and "did you mean bar" in errs[0].fix
    block = BASE.replace('condition: score("bio") >= bar',
                         'condition: |\n      score("bio") >= bar\n        or cost_usd >= 1e8\n'
                         '        or scor("x") > 1')
    _, errs, _ = errors(block)
    line = block.splitlines()[errs[0].line - 1]
    assert line[errs[0].col - 1:].startswith("scor(") and errs[0].line == 19


def test_unknown_benchmarks_are_warnings_not_errors():
    text = BASE.replace('score("bio") >= bar', 'score("bio") >= bar or score("gpqa") > 0.5')
    loaded, errs, warns = errors(text)
    assert loaded is not None and not errs
    assert any('score("gpqa")' in w.message for w in warns)
    loaded, errs, warns = errors(text, known_benchmarks=["gpqa"])
    assert any('benchmark "vct" is not in the register' in w.message for w in warns)
    assert loaded.warnings == warns


def test_undeclared_safeguard_in_condition_is_a_warning():
    text = BASE.replace('score("bio") >= bar', 'score("bio") >= bar and not attested("x")')
    _, errs, warns = errors(text)
    assert not errs and any('attested("x")' in w.message for w in warns)


def test_parameter_overrides():
    loaded, errs, _ = errors(BASE, overrides={"bar": 0.5})
    assert loaded.parameters["bar"] == 0.5
    assert loaded.thresholds[0].condition.root.threshold.value == 0.5
    _, errs, _ = errors(BASE, overrides={"baar": 0.5})
    assert any("no parameter 'baar'" in e.message and "did you mean bar" in e.fix for e in errs)


def test_reserved_parameter_names():
    _, errs, _ = errors(BASE.replace("  bar: {value: 0.3}", "  tokens: {value: 0.3}"))
    assert any("reserved" in e.message for e in errs)


def test_load_policy_raises_policy_error_with_place(tmp_path: Path):
    p = tmp_path / "bad.yaml"
    p.write_text(BASE.replace(">= bar", ">= bar )"), encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policy(p)
    assert re.match(rf"^{re.escape(str(p))}:16:\d+: condition: unexpected '\)' — ", str(e.value))


def test_unknown_policy_name_lists_close_names(tmp_path: Path):
    with pytest.raises(InputError) as e:
        load_policy("anthropic-rps")
    assert "anthropic-rsp" in str(e.value)
    with pytest.raises(InputError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")


def test_compile_in_memory_policy():
    loaded = load_policy("ca-sb53")
    again = compile_policy(loaded.policy)
    assert [t.id for t in again.thresholds] == [t.id for t in loaded.thresholds]


@pytest.mark.parametrize("name", builtin_names())
def test_builtins_are_valid_cite_dated_sources_and_match_the_json_schema(name):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from tripwire.policy.schema import policy_json_schema
    loaded = load_policy(name)
    assert loaded.builtin and not loaded.warnings
    assert loaded.policy.sources and all(s.date or s.version for s in loaded.policy.sources)
    assert loaded.policy.name == name
    data = yaml.safe_load(builtin_text(name))
    jsonschema.validate(_jsonable(data), policy_json_schema())


def _jsonable(v):
    import datetime as dt
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def test_all_eight_builtins_ship():
    assert set(builtin_names()) == {"asl", "anthropic-rsp", "openai-preparedness", "gdm-fsf",
                                    "eu-ai-act-gpai", "ca-sb53", "ca-sb1047", "ny-raise"}
