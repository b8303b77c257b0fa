"""The built-in policies' clocks kept as plain data: the same as the parsed policies give, used
only while a policy's text is the one they were taken from."""

from __future__ import annotations

import pytest

from tripwire.policy import clocks, load_policy
from tripwire.policy.shipped import shipped_text


def test_the_cache_is_current() -> None:
    written = clocks.shipped_text(clocks.CACHE.removesuffix(".json"), ".json")
    assert written == clocks.cache_text(clocks.parsed_builtins()), (
        "policy/builtins/clocks.json is stale: run .venv/bin/python scripts/policy_clocks.py")


def test_cached_clocks_equal_the_parsed_policies() -> None:
    cached = clocks.builtin_clocks()
    assert [c.name for c in cached] == ["ca-sb53", "eu-ai-act-gpai", "ny-raise"]
    assert all(c.policy is None for c in cached)  # none was parsed
    assert cached == clocks.parsed_builtins()
    eu = next(c for c in cached if c.name == "eu-ai-act-gpai")
    assert [(k.safeguard, k.event, k.hours) for k in eu.clocks] == [
        ("commission-notification", "crossing-known", 336.0)]
    assert eu.required([("systemic-risk-presumption", "GPAI-systemic-risk")]) >= {
        "commission-notification"}
    assert eu.required([("gone", "no-such-level")]) == set()
    assert eu.loaded().sha256 == eu.sha256


def test_a_changed_policy_text_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    import tripwire.policy.loader as loader

    def edited(name: str, suffix: str = ".yaml") -> str:
        text = shipped_text(name, suffix)
        return text.replace("within: 2 weeks", "within: 10 days") if (
            name == "eu-ai-act-gpai" and suffix == ".yaml") else text

    monkeypatch.setattr(clocks, "shipped_text", edited)
    monkeypatch.setattr(loader, "shipped_text", edited)
    eu = next(c for c in clocks.builtin_clocks() if c.name == "eu-ai-act-gpai")
    assert eu.policy is not None  # parsed, not taken from the cache
    assert [(k.within, k.hours) for k in eu.clocks] == [("10 days", 240.0)]


def test_without_the_cache_every_policy_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clocks, "CACHE", "no-such-file.json")
    got = clocks.builtin_clocks()
    assert all(c.policy is not None for c in got)
    assert got == [clocks.Clocks.of_policy(load_policy(c.name)) for c in got]
