"""The policy files shipped with tripwire (`builtins/`): their names and texts, unparsed, so
that listing or hashing them imports neither YAML nor the policy models."""

from __future__ import annotations

from importlib import resources


def builtin_names() -> list[str]:
    """Names of the policies shipped with tripwire."""
    folder = resources.files("tripwire.policy") / "builtins"
    names = [p.name[: -len(".yaml")] for p in folder.iterdir()
             if p.name.endswith(".yaml") and not p.name.endswith(".tests.yaml")]
    return sorted(names)


def shipped_text(name: str, suffix: str = ".yaml") -> str:
    """The text of a shipped file `<name><suffix>` (a policy, or its `.tests.yaml`)."""
    return (resources.files("tripwire.policy") / "builtins" / f"{name}{suffix}").read_text(
        "utf-8")
