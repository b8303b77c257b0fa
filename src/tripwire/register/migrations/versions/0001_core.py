"""Core register: source files, models, benchmarks, evaluation results, loss observations.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("ingested_at", T, nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("organization", sa.Text),
        sa.Column("family", sa.Text),
        sa.Column("release_date", sa.Date),
        sa.Column("params", sa.Double),
        sa.Column("tokens", sa.Double),
        sa.Column("compute_flop", sa.Double),
        sa.Column("compute_method", sa.String(20)),
        sa.Column("multiplier", sa.Double, nullable=False),
        sa.Column("cost_usd", sa.Double),
        sa.Column("parent", sa.Text),
        sa.Column("variant", sa.String(20)),
        sa.Column("source", sa.Text),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id")),
        sa.Column("updated_at", T, nullable=False),
    )
    op.create_table(
        "benchmarks",
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
    op.create_table(
        "eval_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("benchmark_id", sa.Text, sa.ForeignKey("benchmarks.id"), nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("stderr", sa.Double),
        sa.Column("samples", sa.Integer),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id")),
        sa.Column("created_at", T),
        sa.Column("original_model", sa.Text),
        sa.Column("original_benchmark", sa.Text),
        sa.Column("filter", sa.Text),
        sa.Column("variant", sa.String(20)),
        sa.Column("extra", sa.Text),
    )
    # One composite index: results are read by benchmark (forecasts) or benchmark and model;
    # every further index would slow the bulk inserts that large result files make.
    op.create_index("ix_eval_results_benchmark_model", "eval_results",
                    ["benchmark_id", "model_id"])
    op.create_table(
        "loss_observations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.Text),
        sa.Column("params", sa.Double, nullable=False),
        sa.Column("tokens", sa.Double, nullable=False),
        sa.Column("compute_flop", sa.Double),
        sa.Column("loss", sa.Double, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id")),
    )
    op.create_index("ix_loss_observations_source_file_id", "loss_observations", ["source_file_id"])


def downgrade() -> None:
    for t in ("loss_observations", "eval_results", "benchmarks", "models", "source_files"):
        op.drop_table(t)
