"""The register: one object over one database, answering in model types. Queries live here;
storing files is `store.BatchStore`, which `Register` inherits.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tripwire.errors import InputError, RegisterError
from tripwire.model import Benchmark, EvalResult, LossObservation, Model, SampleScore, SourceFile
from tripwire.model import utcnow as _now
from tripwire.register import engine as eng
from tripwire.register import tables as t
from tripwire.register.store import FIGURE_FIELDS, BatchStore, IngestOutcome

if TYPE_CHECKING:
    from tripwire import ledger

__all__ = ["IngestOutcome", "Register", "close_names", "open_register"]

log = logging.getLogger(__name__)


def close_names(name: str, choices: list[str], n: int = 5) -> str:
    """A phrase listing the closest known names, for 'unknown X' messages."""
    near = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    if not near:
        near = sorted(c for c in choices if name.lower() in c.lower())[:n]
    return ("did you mean: " + ", ".join(near)) if near else f"{len(choices)} known"


class Register(BatchStore):
    """A register of models, benchmarks, results and loss points in one database."""

    def __init__(self, url: str, engine: sa.Engine) -> None:
        self.url = url
        self.engine = engine
        self.dialect: str = engine.dialect.name

    def __repr__(self) -> str:
        return f"Register({eng.display_url(self.url)!r})"

    @property
    def display(self) -> str:
        """Where the register is, password hidden."""
        return eng.display_url(self.url)

    # -- connections ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue instead of failing)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only snapshot (SQLite: a deferred transaction that takes no write lock)."""
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- aliases -------------------------------------------------------------------------
    def add_alias(self, kind: str, alias: str, target: str) -> None:
        """Map a name as written in logs to a register model (`kind='model'`) or benchmark.

        Recorded as an `alias` entry committing the alias row and the results it moved."""
        from tripwire.register.evidence import commit
        from tripwire.register.record_store import lock_appends

        table, col = (
            (t.model_aliases, "model") if kind == "model" else (t.benchmark_aliases, "benchmark")
        )
        if kind == "model":
            self.get_model(target)
        with self.transaction() as conn:
            lock_appends(conn)
            old = conn.execute(sa.select(table.c[col]).where(table.c.alias == alias)).scalar()
            conn.execute(table.delete().where(table.c.alias == alias))
            conn.execute(table.insert().values(alias=alias, created_at=_now(), **{col: target}))
            moved: list[int] = []
            if kind == "model":
                # Results already stored under the alias's own bare model move to the target.
                src = conn.execute(
                    sa.select(t.models.c.id).where(t.models.c.name == alias)
                ).scalar()
                dst = conn.execute(
                    sa.select(t.models.c.id).where(t.models.c.name == target)
                ).scalar()
                if src is not None and dst is not None and src != dst:
                    where = t.eval_results.c.model_id == src
                    ids = sa.select(t.eval_results.c.id).where(where)
                    moved = list(conn.execute(ids).scalars())
                    conn.execute(t.eval_results.update().where(where).values(model_id=dst))
            elif self._has_benchmark(conn, target):
                where = t.eval_results.c.benchmark_id == alias
                moved = list(conn.execute(sa.select(t.eval_results.c.id).where(where)).scalars())
                conn.execute(t.eval_results.update().where(where).values(benchmark_id=target))
            commit(
                conn,
                "alias",
                {"of": kind, "alias": alias, "target": target, "replaces": old,
                 "moved_results": len(moved)},
                keys={table.name: [alias], "eval_results": moved},
            )

    def _has_benchmark(self, conn: sa.Connection, bid: str) -> bool:
        return (
            conn.execute(sa.select(t.benchmarks.c.id).where(t.benchmarks.c.id == bid)).first()
            is not None
        )

    def aliases(self) -> list[dict[str, str]]:
        with self.read() as conn:
            ms = [
                dict(kind="model", alias=a, target=m)
                for a, m in conn.execute(
                    sa.select(t.model_aliases.c.alias, t.model_aliases.c.model)
                )
            ]
            bs = [
                dict(kind="benchmark", alias=a, target=b)
                for a, b in conn.execute(
                    sa.select(t.benchmark_aliases.c.alias, t.benchmark_aliases.c.benchmark)
                )
            ]
        return sorted(ms + bs, key=lambda r: (r["kind"], r["alias"]))

    # -- queries -------------------------------------------------------------------------
    def models(self) -> list[Model]:
        """Every model, oldest release first."""
        with self.read() as conn:
            rows = conn.execute(
                sa.select(t.models).order_by(
                    t.models.c.release_date.is_(None), t.models.c.release_date, t.models.c.name
                )
            )
            return [_model(r) for r in rows]

    def get_model(self, name: str) -> Model:
        """One model by name or alias; an unknown name lists the close ones."""
        with self.read() as conn:
            target = _unalias(conn, t.model_aliases.c.model, name)
            row = conn.execute(sa.select(t.models).where(t.models.c.name == target)).first()
            if row is None:
                names = list(conn.execute(sa.select(t.models.c.name)).scalars())
                raise InputError(
                    f"no model named {name!r} in the register", hint=close_names(name, names)
                )
            return _model(row)

    def ledger(self, model: str | None = None) -> dict[str, list[ledger.Entry]]:
        """Compute-ledger entries by model (one model's, or every model's): for each model,
        the entries of the newest source file that has any for it."""
        from tripwire import ledger as lg

        q = (sa.select(t.compute_ledger, t.source_files.c.path)
             .join(t.source_files, t.source_files.c.id == t.compute_ledger.c.source_file_id)
             .order_by(t.compute_ledger.c.id))
        if model is not None:
            q = q.where(t.compute_ledger.c.model == model)
        newest: dict[str, int] = {}
        rows: dict[str, list[Any]] = {}
        with self.read() as conn:
            for r in conn.execute(q):
                if r.source_file_id != newest.get(r.model):
                    if r.source_file_id < newest.get(r.model, -1):
                        continue
                    newest[r.model] = r.source_file_id
                    rows[r.model] = []
                rows[r.model].append(r)
        return {m: [lg.Entry(model=r.model, component=r.component, method=r.method,
                             flop=r.flop, source=r.source, params=r.params, tokens=r.tokens,
                             accelerator=r.accelerator, chips=r.chips, hours=r.hours,
                             utilization=r.utilization, uncertainty=r.uncertainty,
                             counts=tuple(r.counts.split()), id=r.id, file=r.path)
                    for r in rs] for m, rs in rows.items()}

    def benchmarks(self) -> list[Benchmark]:
        with self.read() as conn:
            return [
                _benchmark(r)
                for r in conn.execute(sa.select(t.benchmarks).order_by(t.benchmarks.c.id))
            ]

    def get_benchmark(self, bid: str) -> Benchmark:
        """One benchmark by id or alias; an unknown id lists the close ones."""
        with self.read() as conn:
            target = _unalias(conn, t.benchmark_aliases.c.benchmark, bid)
            row = conn.execute(sa.select(t.benchmarks).where(t.benchmarks.c.id == target)).first()
            if row is None:
                ids = list(conn.execute(sa.select(t.benchmarks.c.id)).scalars())
                raise InputError(
                    f"no benchmark {bid!r} in the register", hint=close_names(bid, ids)
                )
            return _benchmark(row)

    def results(
        self, model: str | None = None, benchmark: str | None = None, *, metric: str | None = None
    ) -> list[EvalResult]:
        """Evaluation results with their provenance, oldest first."""
        q = (
            sa.select(
                t.eval_results,
                t.models.c.name.label("model_name"),
                t.source_files.c.path,
                t.source_files.c.sha256,
            )
            .join(t.models, t.models.c.id == t.eval_results.c.model_id)
            .outerjoin(t.source_files, t.source_files.c.id == t.eval_results.c.source_file_id)
            .order_by(t.eval_results.c.id)
        )
        if model is not None:
            q = q.where(t.models.c.name == self.get_model(model).name)
        if benchmark is not None:
            q = q.where(t.eval_results.c.benchmark_id == self._bench_target(benchmark))
        if metric is not None:
            q = q.where(t.eval_results.c.metric == metric)
        with self.read() as conn:
            return [_result(r) for r in conn.execute(q)]

    def _bench_target(self, bid: str) -> str:
        with self.read() as conn:
            return _unalias(conn, t.benchmark_aliases.c.benchmark, bid)

    def samples(self, result_id: int) -> list[SampleScore]:
        with self.read() as conn:
            return [
                SampleScore(sample_id=r.sample_id, epoch=r.epoch, score=r.score, raw=r.raw)
                for r in conn.execute(
                    sa.select(t.eval_samples)
                    .where(t.eval_samples.c.result_id == result_id)
                    .order_by(t.eval_samples.c.id)
                )
            ]

    def sample_scores(
        self, result_ids: Iterable[int]
    ) -> dict[int, tuple[Sequence[str], Sequence[int], Sequence[float | None]]]:
        """Per-sample scores of many results at once: result id -> (sample ids, epochs, scores),
        in stored order; results without samples are absent.

        Comparing two models reads ~10^5-10^6 rows, so this goes below SQLAlchemy's result
        objects: one query per result on the DBAPI cursor, rows fetched at once and transposed
        in C (`zip(*rows)`)."""
        ids = sorted(set(result_ids))
        out: dict[int, tuple[Sequence[str], Sequence[int], Sequence[float | None]]] = {}
        es = t.eval_samples
        q = (
            sa.select(es.c.sample_id, es.c.epoch, es.c.score)
            .where(es.c.result_id == sa.bindparam("rid"))
            .order_by(es.c.id)
        )
        with self.read() as conn:
            compiled = q.compile(dialect=conn.dialect)
            sql = str(compiled)
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for rid in ids:
                    params: Any = compiled.construct_params({"rid": int(rid)})
                    if conn.dialect.paramstyle == "qmark":
                        params = tuple(params[k] for k in compiled.positiontup or ())
                    cursor.execute(sql, params)
                    rows = cursor.fetchall()
                    if rows:
                        sids, epochs, scores = zip(*rows, strict=True)
                        out[rid] = (sids, epochs, scores)
            finally:
                cursor.close()
        return out

    def loss_observations(self) -> list[LossObservation]:
        with self.read() as conn:
            return [
                LossObservation(
                    model=r.model,
                    params=r.params,
                    tokens=r.tokens,
                    compute_flop=r.compute_flop,
                    loss=r.loss,
                    source=r.source,
                )
                for r in conn.execute(
                    sa.select(t.loss_observations).order_by(t.loss_observations.c.id)
                )
            ]

    def source_files(self) -> list[SourceFile]:
        with self.read() as conn:
            return [
                SourceFile(
                    id=r.id,
                    path=r.path,
                    sha256=r.sha256,
                    kind=r.kind,
                    size=r.size,
                    version=r.version,
                    ingested_at=r.ingested_at,
                    export_date=r.export_date,
                    export_basis=r.export_basis,
                )
                for r in conn.execute(sa.select(t.source_files).order_by(t.source_files.c.id))
            ]

    def source_file(self, ref: str) -> SourceFile:
        """A stored file by its path (as given or resolved), file name, or a sha256 prefix of
        at least 8 hex digits; the newest version of a path."""
        files = self.source_files()
        resolved = str(Path(ref).expanduser().resolve()) if ref else ref
        hits = [f for f in files if f.path in (ref, resolved)]
        if not hits:
            hits = [f for f in files if Path(f.path).name == ref]
        if not hits and len(ref) >= 8:
            hits = [f for f in files if f.sha256.startswith(ref.lower())]
        if not hits:
            raise InputError(f"no ingested file {ref!r} in {self.display}",
                             hint="give a path or sha256 prefix that `tripwire ingest` stored")
        paths = {f.path for f in hits}
        if len(paths) > 1:
            raise InputError(f"{ref!r} matches {len(paths)} stored files",
                             hint="give the full path or a sha256 prefix")
        return max(hits, key=lambda f: f.version)

    def figure_diff(self, old: str, new: str) -> dict[str, Any]:
        """What changed in model figures between two ingested files (e.g. two exports of one
        database): changed figures, models only in one of them. Two dated exports are
        compared from the earlier-dated to the later-dated, in whichever order they are named
        (or were ingested)."""
        a, b = self.source_file(old), self.source_file(new)
        if a.export_date is not None and b.export_date is not None \
                and a.export_date > b.export_date:
            a, b = b, a

        def figures(file_id: int | None) -> dict[str, dict[str, Any]]:
            q = (sa.select(t.models.c.name, t.model_figures)
                 .join(t.models, t.models.c.id == t.model_figures.c.model_id)
                 .where(t.model_figures.c.source_file_id == file_id))
            with self.read() as conn:
                return {r.name: {f: getattr(r, f) for f in FIGURE_FIELDS}
                        for r in conn.execute(q)}

        fa, fb = figures(a.id), figures(b.id)
        changed = [
            {"model": name, "field": f, "old": fa[name][f], "new": fb[name][f]}
            for name in sorted(set(fa) & set(fb))
            for f in FIGURE_FIELDS
            if fa[name][f] != fb[name][f]
        ]
        return {"old": a.path, "old_sha256": a.sha256, "old_export_date": a.export_date,
                "new": b.path, "new_sha256": b.sha256, "new_export_date": b.export_date,
                "changed": changed, "only_old": sorted(set(fa) - set(fb)),
                "only_new": sorted(set(fb) - set(fa))}

    def counts(self) -> dict[str, int]:
        """Row count of every table (used to prove a failed ingest left nothing behind)."""
        with self.read() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()
                for n in sorted(names)
                if n != "alembic_version"
            }


def _unalias(conn: sa.Connection, target: sa.Column[str], name: str) -> str:
    """What an alias table maps `name` to (the name itself when it is no alias)."""
    alias = target.table.c.alias
    return conn.execute(sa.select(target).where(alias == name)).scalar() or name


def _model(r: Any) -> Model:
    return Model(
        name=r.name,
        organization=r.organization,
        family=r.family,
        release_date=r.release_date,
        params=r.params,
        tokens=r.tokens,
        compute_flop=r.compute_flop,
        compute_method=r.compute_method,
        compute_confidence=r.compute_confidence,
        multiplier=r.multiplier,
        cost_usd=r.cost_usd,
        parent=r.parent,
        variant=r.variant,
        source=r.source,
    )


def _benchmark(r: Any) -> Benchmark:
    return Benchmark(
        id=r.id,
        name=r.name,
        metric=r.metric,
        higher_is_better=r.higher_is_better,
        chance=r.chance,
        ceiling=r.ceiling,
        parent=r.parent,
        dataset=r.dataset,
        samples=r.samples,
        source=r.source,
    )


def _result(r: Any) -> EvalResult:
    created = r.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=_now().tzinfo)
    return EvalResult(
        id=r.id,
        model=r.model_name,
        benchmark=r.benchmark_id,
        metric=r.metric,
        value=r.value,
        stderr=r.stderr,
        samples=r.samples,
        source_file=r.path,
        source_sha256=r.sha256,
        created_at=created,
        original_model=r.original_model,
        original_benchmark=r.original_benchmark,
        filter=r.filter,
        variant=r.variant,
        extra=json.loads(r.extra) if r.extra else {},
    )


def open_register(db: str | None = None, *, create: bool = False) -> Register:
    """Open the register at `db` (path or URL; default $TRIPWIRE_DB or ./tripwire.db).

    With `create`, a missing SQLite file is created and the schema brought to the newest
    migration; an existing register is upgraded in place, never recreated. Without it, a
    missing register is an error that says how to make one.
    """
    url = eng.resolve_url(db)
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        path = Path(u.database)
        if path.is_dir():
            raise RegisterError(
                f"{path} is a folder, not a register file",
                hint="give a file path such as tripwire.db",
            )
        if not path.parent.is_dir():
            raise RegisterError(
                f"cannot create a register at {path}: the folder {path.parent} does not exist"
            )
        if not path.exists() and not create:
            raise RegisterError(
                f"no register at {path}", hint="run `tripwire init` first, or pass --db PATH"
            )
        # The file is not opened here to check its header: closing any descriptor of a file
        # drops every POSIX lock this process holds on it, and with them the locks of this
        # process's open SQLite connections (another process could then checkpoint and delete
        # the WAL under them: "database disk image is malformed"). SQLite says it instead.
    engine = eng.create_engine(url)
    try:
        with engine.connect() as conn:
            rev = eng.current_revision(conn)
    except sa.exc.OperationalError as e:
        engine.dispose()
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        raise RegisterError(
            f"cannot open the register at {eng.display_url(url)}: {reason}"
        ) from None
    except sa.exc.DatabaseError as e:
        engine.dispose()
        if "file is not a database" in str(e.orig):
            raise RegisterError(
                f"{eng.display_url(url)} is not a tripwire register (not a SQLite file)"
            ) from None
        raise RegisterError(
            f"{eng.display_url(url)} is not a usable register: {str(e.orig).strip()}"
        ) from None
    if rev is None and not create:
        engine.dispose()
        raise RegisterError(
            f"{eng.display_url(url)} holds no tripwire register", hint="run `tripwire init` first"
        )
    if rev != eng.head_revision():
        eng.upgrade(engine)
    return _make_register(url, engine)


def _make_register(url: str, engine: sa.Engine) -> Register:
    return Register(url, engine)
