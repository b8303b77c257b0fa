"""One gathered report over the sample register, shared by the report tests (gathering fits
every law and forecast, so it is done once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from report.sample_register import FOCUS, HOSTILE, POLICIES, build

from tripwire.register import Register
from tripwire.report import ReportData, gather_report


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Register]:
    reg = build(tmp_path_factory.mktemp("sample"))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def focus_report(sample: Register) -> ReportData:
    return gather_report(sample, models=[FOCUS, HOSTILE], policies=POLICIES,
                         thresholds={"mmlu": [0.8]}, n_boot=20)


@pytest.fixture(scope="session")
def all_report(sample: Register) -> ReportData:
    return gather_report(sample, policies=POLICIES, n_boot=20,
                         sections=("determinations", "record", "forecasts"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path
