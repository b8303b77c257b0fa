"""The JSON report: `ReportData` with stable keys, for machines (CI, dashboards, archives)."""

from __future__ import annotations

import json

from tripwire.report.data import ReportData

__all__ = ["render_json"]


def render_json(d: ReportData) -> str:
    """The report as JSON: times in UTC ISO 8601, unknown numbers as null."""
    return json.dumps(d.model_dump(mode="json"), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"
