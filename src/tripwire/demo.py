"""The whole loop on the bundled public data, in one call (what `tripwire demo` runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tripwire import ingest
from tripwire.register import IngestOutcome, Register, open_register

EXAMPLE_FILES = ("models.csv", "evals.csv", "loss.csv")


def example_path(name: str) -> Path:
    """Path of a bundled example table (models.csv, evals.csv, loss.csv)."""
    return Path(str(resources.files("tripwire") / "examples" / name))


@dataclass
class DemoRun:
    """What the demo did: where, what it ingested, and the register it left."""

    folder: Path
    register: Register
    ingested: list[IngestOutcome] = field(default_factory=list)


def fresh_register(folder: Path, db: str | None = None) -> Register:
    """A new register: `db` if given, else `folder/tripwire.db`, replacing an earlier demo's."""
    folder.mkdir(parents=True, exist_ok=True)
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            (folder / f"tripwire.db{suffix}").unlink(missing_ok=True)
        db = str(folder / "tripwire.db")
    return open_register(db, create=True)


def run_demo(folder: str | Path = "tripwire-demo", db: str | None = None) -> DemoRun:
    """Set up a register and ingest the bundled example tables into it."""
    folder = Path(folder).resolve()
    run = DemoRun(folder=folder, register=fresh_register(folder, db))
    for name in EXAMPLE_FILES:
        run.ingested.append(run.register.ingest(ingest.read_file(example_path(name))))
    return run
