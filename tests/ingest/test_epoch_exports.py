"""Epoch AI's three model databases as exported: confidence labels, names, the frontier and
large-scale exports' own columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from epoch_exports import (
    FRONTIER_HEADER,
    FRONTIER_ROWS,
    LARGE_SCALE_HEADER,
    LARGE_SCALE_ROWS,
    table,
)
from helpers import write

from tripwire import compute, ingest
from tripwire.errors import InputError


def test_notable_export_confidence_labels(shared_data: Path) -> None:
    b = ingest.read_file(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv")
    by = {m.name: m for m in b.models}
    assert by["Grok-3"].compute_confidence == "Confident"
    assert by["GPT-4o"].compute_confidence == "Speculative"
    # `Reported` alone is the developer's own figure: exact.
    assert by["ESM3 (98B)"].compute_confidence is None
    assert compute.compute_sigma_ln(by["ESM3 (98B)"]) == 0
    # A blank label on a compute figure is judged Unknown, and the reader says how many.
    unknown = [m for m in b.models if m.compute_confidence == "Unknown"]
    assert len(unknown) >= 150
    assert [w for w in b.warnings if "Confidence" in w] == [f"{len(unknown) - 1} compute figure(s) have no Confidence: judged as "
                          "Unknown (the widest assumed spread)"]


def test_frontier_export_reads_with_its_own_columns(tmp_path: Path) -> None:
    p = write(tmp_path / "frontier_ai_models.csv", table(FRONTIER_HEADER, FRONTIER_ROWS))
    b = ingest.read_file(p)
    assert b.kind == "epoch-csv" and not b.warnings
    by = {m.name: m for m in b.models}
    assert by["Grok 4"].compute_flop == 5.0000000000001e26
    assert by["Grok 4"].compute_confidence == "Speculative"
    assert by["Llama 4 Behemoth (preview)"].compute_confidence == "Likely"
    assert by["GPT-4o (Mar 2025)"].compute_flop is None  # NaN in an unread column is fine
    assert by["Llama Nemotron Ultra 253B"].parent == "Llama 3.1-405B"


def test_large_scale_export_names_models_system(tmp_path: Path) -> None:
    p = write(tmp_path / "large_scale_ai_models.csv",
              table(LARGE_SCALE_HEADER, LARGE_SCALE_ROWS))
    b = ingest.read_file(p)
    assert b.kind == "epoch-csv" and not b.warnings
    by = {m.name: m for m in b.models}
    assert set(by) == {r["System"] for r in LARGE_SCALE_ROWS}
    assert by["GLM-4V-9B"].compute_flop == 5.4e23 and by["GLM-4V-9B"].tokens == 1e13
    assert by["ESM3 (98B)"].compute_confidence == "Confident"


def test_names_with_stray_whitespace_are_one_model(tmp_path: Path) -> None:
    rows = [dict(FRONTIER_ROWS[0], Model=" Grok 4\n"), dict(FRONTIER_ROWS[1],
                                                           Model="Llama 4  Behemoth (preview)")]
    b = ingest.read_file(write(tmp_path / "f.csv", table(FRONTIER_HEADER, rows)))
    assert [m.name for m in b.models] == ["Grok 4", "Llama 4 Behemoth (preview)"]


def test_confidence_outside_the_vocabulary_names_file_line_column(tmp_path: Path) -> None:
    rows = [FRONTIER_ROWS[0], dict(FRONTIER_ROWS[1], Confidence="Fairly sure")]
    p = write(tmp_path / "frontier.csv", table(FRONTIER_HEADER, rows))
    with pytest.raises(InputError) as e:
        ingest.read_file(p)
    text = str(e.value)
    assert "frontier.csv" in text and ":3" in text or "line 3" in text
    assert "'Confidence'" in text and "Fairly sure" in text and "Speculative" in text


def test_spread_per_label() -> None:
    from tripwire.model import Model

    base = dict(name="m", compute_flop=1e25, compute_method="given")
    exact = Model(**base)
    assert compute.compute_sigma_ln(exact) == 0 and compute.p_above(exact, 1e25) == 0.0
    sig = {c: compute.compute_sigma_ln(Model(**base, compute_confidence=c))
           for c in compute.CONFIDENCE_LABELS}
    assert sig["Confident"] < sig["Likely"] < sig["Speculative"] == sig["Unknown"]
    # Within the label's factor with the stated coverage.
    for label, k in compute.CONFIDENCE_FACTOR.items():
        m = Model(**base, compute_confidence=label)
        inside = compute.p_above(m, 1e25 / k) - compute.p_above(m, 1e25 * k)
        assert inside == pytest.approx(compute.CONFIDENCE_COVERAGE, abs=1e-9)
    est = Model(name="e", params=7e9, tokens=2e12)
    assert compute.compute_sigma_ln(compute.with_estimates(est)) == compute.ESTIMATE_SIGMA_LN
    assert compute.p_above(Model(name="u"), 1e25) is None


def test_line_count_expected_and_interval() -> None:
    import itertools

    from tripwire.model import Model

    probs = [0.9, 0.5, 0.2, 1.0, 0.0]
    dist = compute.count_distribution(probs)
    brute = [0.0] * (len(probs) + 1)
    for bits in itertools.product([0, 1], repeat=len(probs)):
        p = 1.0
        for b, q in zip(bits, probs, strict=True):
            p *= q if b else 1 - q
        brute[sum(bits)] += p
    assert dist == pytest.approx(brute)
    ms = [Model(name="a", compute_flop=3e25, compute_method="given"),
          Model(name="b", compute_flop=9e24, compute_method="given", compute_confidence="Likely"),
          Model(name="c")]
    c = compute.line_count(ms, 1e25)
    assert c.point == 1 and c.unknown == 1 and 1.0 < c.expected < 2.0
    assert c.interval95[0] <= c.point <= c.interval95[1] == 2


def test_export_date_from_what_the_file_carries(tmp_path: Path) -> None:
    from tripwire.ingest.csv import name_date

    assert name_date("notable_ai_models_2025-02-24.csv") == dt.date(2025, 2, 24)
    assert name_date("notable_ai_models_24_02_2025.csv") == dt.date(2025, 2, 24)
    assert name_date("frontier_20250709.csv") == dt.date(2025, 7, 9)
    assert name_date("notable_03_04_2025.csv") is None  # day or month first?
    assert name_date("notable_ai_models.csv") is None
    # An Airtable view's `Last modified` column dates the export over its name.
    header = [*FRONTIER_HEADER, "Last modified"]
    rows = [dict(FRONTIER_ROWS[0], **{"Last modified": "2025-06-10 16:37"}),
            dict(FRONTIER_ROWS[1], **{"Last modified": "2025-06-20 12:23"})]
    b = ingest.read_file(write(tmp_path / "frontier_2025-01-01.csv", table(header, rows)))
    assert b.export_date == dt.date(2025, 6, 20) and "Last modified" in (b.export_basis or "")
    b = ingest.read_file(write(tmp_path / "frontier.csv", table(FRONTIER_HEADER,
                                                               FRONTIER_ROWS)))
    assert b.export_date == dt.date(2025, 7, 9)  # Grok 4's publication date: a lower bound
    assert "at least" in (b.export_basis or "")
