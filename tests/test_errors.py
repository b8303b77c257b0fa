"""The error tree: what the CLI shows of an error, and errors crossing processes whole."""

from __future__ import annotations

import pickle

from tripwire.errors import InputError


def test_errors_pickle_with_their_parts() -> None:
    e = InputError("bad value", source="f.csv", where="row 3", hint="fix it")
    e.note = "kept"  # type: ignore[attr-defined]
    got = pickle.loads(pickle.dumps(e))
    assert type(got) is InputError
    assert (got.message, got.source, got.where, got.hint) == ("bad value", "f.csv", "row 3",
                                                              "fix it")
    assert str(got) == str(e) and got.note == "kept"  # type: ignore[attr-defined]
