"""Close names among many: exactly difflib's `get_close_matches`, with its character-count
bound (`quick_ratio`) worked out for every candidate at once.

A results file naming a model the register lacks gets a warning with the closest registered
names. difflib compares the name with each candidate in Python, about 3 microseconds apiece:
some 10 ms a file against a few thousand registered models, which made an ingest of a thousand
such files take seconds longer than the rest of the ingest. Candidates whose bound is below
the cutoff cannot match; the bound is an upper limit on the ratio, so dropping them first
leaves the answer unchanged, and what is left is usually a handful.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["CloseNames"]

SMALL = 64
"""Below this many names, difflib alone is as quick."""


class CloseNames:
    """A fixed set of names to find close matches among, indexed on first use."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self._index: tuple[Any, Any, dict[str, int]] | None = None

    def __contains__(self, name: object) -> bool:
        return name in set(self.names)

    def closest(self, word: str, n: int = 3, cutoff: float = 0.6,
                exclude: Iterable[str] = ()) -> list[str]:
        """`difflib.get_close_matches(word, names - exclude, n, cutoff)`."""
        pool = self.names
        if len(pool) > SMALL:
            pool = self._could_match(word, cutoff)
        skip = set(exclude)
        return difflib.get_close_matches(word, [x for x in pool if x not in skip], n=n,
                                         cutoff=cutoff)

    def _could_match(self, word: str, cutoff: float) -> list[str]:
        """The names whose difflib `quick_ratio` with `word` reaches `cutoff`: twice the
        characters they share (as multisets) over their summed lengths."""
        import numpy as np

        if self._index is None:
            alphabet: dict[str, int] = {}
            for name in self.names:
                for c in name:
                    alphabet.setdefault(c, len(alphabet))
            counts = np.zeros((len(self.names), len(alphabet)), dtype=np.int32)
            for row, name in enumerate(self.names):
                for c in name:
                    counts[row, alphabet[c]] += 1
            self._index = (counts, counts.sum(axis=1), alphabet)
        counts, lengths, alphabet = self._index
        query = np.zeros(len(alphabet), dtype=np.int32)
        for c in word:
            i = alphabet.get(c)
            if i is not None:
                query[i] += 1
        shared = np.minimum(counts, query).sum(axis=1)
        total = lengths + len(word)
        bound = np.where(total > 0, 2.0 * shared / np.maximum(total, 1), 1.0)
        # a hair below the cutoff: difflib applies the exact test to what is left
        return [self.names[i] for i in np.flatnonzero(bound >= cutoff - 1e-9)]
