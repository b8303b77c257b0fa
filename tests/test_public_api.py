"""The public API is deliberate: `tripwire.__all__` lists exactly the public names exported,
each reachable as an attribute although most are loaded only on first use."""

from __future__ import annotations

import types

import pytest

import tripwire


def test_all_matches_the_public_names() -> None:
    public = {n for n in dir(tripwire)
              if not n.startswith("_") and not isinstance(getattr(tripwire, n), types.ModuleType)}
    assert public == set(tripwire.__all__) - {"__version__"}


def test_lazy_names_are_the_modules_own_objects() -> None:
    from tripwire.fit import ChinchillaLaw
    from tripwire.register import open_register

    assert tripwire.ChinchillaLaw is ChinchillaLaw
    assert tripwire.open_register is open_register
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = tripwire.not_a_name  # type: ignore[attr-defined]


def test_every_exported_name_has_a_docstring() -> None:
    for name in tripwire.__all__:
        obj = getattr(tripwire, name)
        if callable(obj):
            assert obj.__doc__, name
