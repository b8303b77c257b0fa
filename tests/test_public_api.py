"""The public API is deliberate: `tripwire.__all__` lists exactly the public names exported."""

from __future__ import annotations

import types

import tripwire


def test_all_matches_the_public_names() -> None:
    public = {n for n, v in vars(tripwire).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public == set(tripwire.__all__) - {"__version__"}


def test_every_exported_name_has_a_docstring() -> None:
    for name in tripwire.__all__:
        obj = getattr(tripwire, name)
        if callable(obj):
            assert obj.__doc__, name
