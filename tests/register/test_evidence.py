"""The record's commitment to the evidence rows (tripwire.register.evidence)."""

from __future__ import annotations

from tripwire.register import tables as t
from tripwire.register.evidence import TABLES


def test_every_register_table_is_evidence_with_every_column() -> None:
    """A column or table added to the register without being committed would be an open door."""
    assert set(TABLES) == set(t.metadata.tables)
    for name, table in t.metadata.tables.items():
        spec = TABLES[name]
        assert set(spec.columns) == {c.name for c in table.columns}, name
        assert spec.columns[0] == spec.key == next(iter(table.primary_key.columns)).name
