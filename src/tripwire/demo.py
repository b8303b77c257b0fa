"""The whole loop on the bundled public data, in one call (what `tripwire demo` runs).

Register, ingest, fit the loss scaling law, forecast the benchmarks, assess every model under
every built-in policy (each determination recorded), gate two actions, sign a checkpoint,
verify the record, and write the HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tripwire import ingest
from tripwire.register import IngestOutcome, Register, open_register

EXAMPLE_FILES = ("models.csv", "evals.csv", "loss.csv")

DEMO_THRESHOLDS: dict[str, list[float]] = {"mmlu": [0.8], "gsm8k": [0.8]}
"""Illustrative score thresholds the demo forecasts (the built-in policies name dangerous-
capability evaluations, which the bundled public data does not hold)."""

DEMO_GATES: tuple[tuple[str, str, str], ...] = (
    ("Llama-3.1-405B", "deploy", "eu-ai-act-gpai"),
    ("gpt2-xl", "train", "ca-sb53"),
)
"""(model, action, policy) gates the demo asks: one above the EU line, one far below
California's."""


def example_path(name: str) -> Path:
    """Path of a bundled example table (models.csv, evals.csv, loss.csv)."""
    return Path(str(resources.files("tripwire") / "examples" / name))


@dataclass
class DemoRun:
    """What the demo did: where, what it ingested, decided and recorded, and the report."""

    folder: Path
    register: Register
    ingested: list[IngestOutcome] = field(default_factory=list)
    assessments: list[Any] = field(default_factory=list)
    """`tripwire.assess.Assessment`s, each recorded."""
    gates: list[Any] = field(default_factory=list)
    """`tripwire.assess.GateDecision`s."""
    checkpoint: Any = None
    """The signed tree head over the record (`tripwire.record.SignedTreeHead`)."""
    key: Path | None = None
    verify: Any = None
    """`tripwire.record.VerifyReport` of the record after the checkpoint."""
    report: Any = None
    """The gathered `tripwire.report.ReportData` (fit, forecasts, determinations, record)."""
    report_path: Path | None = None


def fresh_register(folder: Path, db: str | None = None) -> Register:
    """A new register: `db` if given, else `folder/tripwire.db`, replacing an earlier demo's."""
    folder.mkdir(parents=True, exist_ok=True)
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            (folder / f"tripwire.db{suffix}").unlink(missing_ok=True)
        db = str(folder / "tripwire.db")
    return open_register(db, create=True)


def _demo_key(folder: Path) -> Path:
    """The demo's own signing key in its folder (made once, mode 0600)."""
    from tripwire.record import generate_key

    key = folder / "tripwire.key"
    if not key.exists():
        generate_key(key)
    return key


def run_demo(folder: str | Path = "tripwire-demo", db: str | None = None, *,
             report: bool = True, policies: list[str] | None = None,
             n_boot: int = 200) -> DemoRun:
    """Run the whole loop in `folder` (see the module docstring); `report=False` stops after
    ingesting (a bare register for tests and examples)."""
    folder = Path(folder).resolve()
    run = DemoRun(folder=folder, register=fresh_register(folder, db))
    reg = run.register
    for name in EXAMPLE_FILES:
        run.ingested.append(reg.ingest(ingest.read_file(example_path(name))))
    if not report:
        return run

    from tripwire.assess import assess, gate
    from tripwire.register import record_store as store
    from tripwire.report import gather_report, write_report
    from tripwire.report.data import load_policies

    loaded = load_policies(policies)
    for m in reg.models():
        for pol in loaded:
            run.assessments.append(assess(reg, m.name, pol))
    names = {m.name for m in reg.models()}
    for model, action, policy in DEMO_GATES:
        pol = next((p for p in loaded if p.name == policy), None)
        if model in names and pol is not None:
            run.gates.append(gate(reg, model, action, pol))
    run.key = _demo_key(folder)
    run.checkpoint = store.make_checkpoint(reg, run.key)
    run.verify = store.verify_register(reg)
    judged = [(a.determination, a.warnings) for a in run.assessments]
    run.report = gather_report(reg, policies=loaded, thresholds=DEMO_THRESHOLDS,
                               n_boot=n_boot, judged=judged,
                               title="tripwire demo: public models under the built-in policies")
    run.report_path = write_report(run.report, "html", folder / "report.html")
    return run


def epoch_notable_export() -> Path | None:
    """Epoch AI's Notable AI Models export in `../shared/data/epoch_ai` (beside the working
    folder or the source checkout), the newest by name; None when there is none."""
    roots = [Path.cwd(), Path(__file__).resolve().parents[2]]
    for root in roots:
        found = sorted((root / ".." / "shared" / "data" / "epoch_ai").glob(
            "notable_ai_models_*.csv"))
        if found:
            return found[-1].resolve()
    return None


@dataclass
class IndustryRun:
    """What the industry demo read and wrote."""

    folder: Path
    register: Register
    source: Path
    data: Any = None
    """The gathered `tripwire.report.industry.IndustryData`."""
    paths: dict[str, Path] = field(default_factory=dict)


def run_industry_demo(folder: str | Path = "tripwire-demo", db: str | None = None, *,
                      n_boot: int = 200) -> IndustryRun:
    """The industry view end to end: a fresh register of Epoch AI's notable-models export (the
    bundled example models when it is not there), then the industry report in HTML, Markdown
    and JSON."""
    from tripwire.report import write_text
    from tripwire.report.industry import gather_industry, render_industry

    folder = Path(folder).resolve()
    reg = fresh_register(folder, db)
    source = epoch_notable_export() or example_path("models.csv")
    reg.ingest(ingest.read_file(source))
    run = IndustryRun(folder=folder, register=reg, source=source)
    run.data = gather_industry(reg, n_boot=n_boot)
    for fmt, suffix in (("html", ".html"), ("md", ".md"), ("json", ".json")):
        run.paths[fmt] = write_text(render_industry(run.data, fmt), folder / f"industry{suffix}",
                                    "industry", suffix)
    return run
