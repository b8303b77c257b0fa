"""The register's tables (SQLAlchemy Core). The schema itself is created by the Alembic
migrations in `migrations/versions/`; these definitions are what queries are written against
and must match the head revision (a test checks that)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

UTCDateTime = sa.DateTime(timezone=True)

source_files = sa.Table(
    "source_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    sa.Column("run_key", sa.String(64), index=True),
    sa.Column("etag", sa.Text),
    sa.Column("export_date", sa.Date),
    sa.Column("export_basis", sa.Text),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("organization", sa.Text),
    sa.Column("family", sa.Text),
    sa.Column("release_date", sa.Date),
    sa.Column("params", sa.Double),
    sa.Column("tokens", sa.Double),
    sa.Column("compute_flop", sa.Double),
    sa.Column("compute_method", sa.String(20)),
    sa.Column("compute_confidence", sa.String(20)),
    sa.Column("multiplier", sa.Double, nullable=False),
    sa.Column("cost_usd", sa.Double),
    sa.Column("parent", sa.Text),
    sa.Column("variant", sa.String(20)),
    sa.Column("source", sa.Text),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id")),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

benchmarks = sa.Table(
    "benchmarks",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("metric", sa.Text),
    sa.Column("higher_is_better", sa.Boolean, nullable=False),
    sa.Column("chance", sa.Double),
    sa.Column("ceiling", sa.Double),
    sa.Column("parent", sa.Text),
    sa.Column("dataset", sa.Text),
    sa.Column("samples", sa.Integer),
    sa.Column("source", sa.Text),
)

eval_results = sa.Table(
    "eval_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("benchmark_id", sa.Text, sa.ForeignKey("benchmarks.id"), nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("stderr", sa.Double),
    sa.Column("samples", sa.Integer),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id")),
    sa.Column("created_at", UTCDateTime),
    sa.Column("original_model", sa.Text),
    sa.Column("original_benchmark", sa.Text),
    sa.Column("filter", sa.Text),
    sa.Column("variant", sa.String(20)),
    sa.Column("extra", sa.Text),
    sa.Index("ix_eval_results_benchmark_model", "benchmark_id", "model_id"),
)

loss_observations = sa.Table(
    "loss_observations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model", sa.Text),
    sa.Column("params", sa.Double, nullable=False),
    sa.Column("tokens", sa.Double, nullable=False),
    sa.Column("compute_flop", sa.Double),
    sa.Column("loss", sa.Double, nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), index=True),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("alias", sa.Text, primary_key=True),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

benchmark_aliases = sa.Table(
    "benchmark_aliases",
    metadata,
    sa.Column("alias", sa.Text, primary_key=True),
    sa.Column("benchmark", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

eval_samples = sa.Table(
    "eval_samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "result_id", sa.Integer, sa.ForeignKey("eval_results.id"), nullable=False, index=True
    ),
    sa.Column("sample_id", sa.Text, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("score", sa.Double),
    sa.Column("raw", sa.Text),
)

model_figures = sa.Table(
    "model_figures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False, index=True),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=False,
              index=True),
    sa.Column("release_date", sa.Date),
    sa.Column("params", sa.Double),
    sa.Column("tokens", sa.Double),
    sa.Column("compute_flop", sa.Double),
    sa.Column("compute_method", sa.String(20)),
    sa.Column("compute_confidence", sa.String(20)),
)
"""Every model figure as each source file gave it (the models table holds the current one), so
two exports of a database keep both versions of a revised figure."""

compute_ledger = sa.Table(
    "compute_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model", sa.Text, nullable=False, index=True),
    sa.Column("component", sa.String(20), nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("flop", sa.Double, nullable=False),
    sa.Column("params", sa.Double),
    sa.Column("tokens", sa.Double),
    sa.Column("accelerator", sa.Text),
    sa.Column("chips", sa.Double),
    sa.Column("hours", sa.Double),
    sa.Column("utilization", sa.Double),
    sa.Column("uncertainty", sa.Double),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"), nullable=False,
              index=True),
)
"""Parts of models' training compute (tripwire.ledger.Entry), each from a source file; a
model's ledger is the entries of the newest file that has any for it."""
