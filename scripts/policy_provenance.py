"""Write the provenance tables of docs/policies.md from the built-in policy files, so the
tables cannot drift from the files (tests/policy/test_provenance.py fails when they are stale).

    .venv/bin/python scripts/policy_provenance.py
"""

from __future__ import annotations

from pathlib import Path

from tripwire.policy.provenance import replace_docs_section

DOC = Path(__file__).resolve().parents[1] / "docs" / "policies.md"


def main() -> None:
    text = DOC.read_text("utf-8")
    new = replace_docs_section(text)
    if new != text:
        DOC.write_text(new, "utf-8")
        print(f"wrote {DOC}")
    else:
        print(f"{DOC} is current")


if __name__ == "__main__":
    main()
