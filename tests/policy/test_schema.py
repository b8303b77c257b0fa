"""The policy schema: documented fields, JSON Schema export, helper lookups."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tripwire.policy.schema import Policy, policy_json_schema


def test_json_schema_has_descriptions_for_every_field():
    schema = policy_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"name", "version", "levels"} <= set(schema["required"])
    for prop, spec in schema["properties"].items():
        assert spec.get("description"), prop
    for name, definition in schema["$defs"].items():
        for prop, spec in definition["properties"].items():
            assert spec.get("description"), f"{name}.{prop}"


def _policy(**kw):
    base = dict(name="p", version="1",
                levels=[dict(id="a", requires=dict(train=["s1"])),
                        dict(id="b", requires=dict(train=["s2"], deploy=["s2", "s1"]))],
                safeguards=[dict(id="s1"), dict(id="s2")])
    base.update(kw)
    return Policy.model_validate(base)


def test_required_is_cumulative_unless_told_otherwise():
    p = _policy()
    assert p.required("b") == {"train": ["s1", "s2"], "deploy": ["s2", "s1"]}
    assert p.required(None) == {"train": [], "deploy": []}
    q = _policy(cumulative=False)
    assert q.required("b") == {"train": ["s2"], "deploy": ["s2", "s1"]}


def test_confidence_bounds_and_extra_fields():
    with pytest.raises(ValidationError):
        _policy(confidence=0.4)
    with pytest.raises(ValidationError):
        _policy(colour="red")
