"""Write src/tripwire/policy/builtins/clocks.json: the built-in policies' clocked deadlines and
the safeguards their levels and thresholds require, taken from the parsed policies, so that
`tripwire obligations` need not parse them (tests/policy/test_clocks.py fails when it is stale;
a policy whose text changed since is parsed in any case).

    .venv/bin/python scripts/policy_clocks.py
"""

from __future__ import annotations

from importlib import resources

from tripwire.policy.clocks import CACHE, cache_text, parsed_builtins


def main() -> None:
    out = resources.files("tripwire.policy") / "builtins" / CACHE
    with resources.as_file(out) as path:
        path.write_text(cache_text(parsed_builtins()), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
