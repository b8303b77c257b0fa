"""Aliases for model and benchmark names from logs; per-sample scores.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_aliases",
        sa.Column("alias", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("created_at", T, nullable=False),
    )
    op.create_table(
        "benchmark_aliases",
        sa.Column("alias", sa.Text, primary_key=True),
        sa.Column("benchmark", sa.Text, nullable=False),
        sa.Column("created_at", T, nullable=False),
    )
    op.create_table(
        "eval_samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("result_id", sa.Integer, sa.ForeignKey("eval_results.id"), nullable=False),
        sa.Column("sample_id", sa.Text, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("score", sa.Double),
        sa.Column("raw", sa.Text),
    )
    op.create_index("ix_eval_samples_result_id", "eval_samples", ["result_id"])


def downgrade() -> None:
    for t in ("eval_samples", "benchmark_aliases", "model_aliases"):
        op.drop_table(t)
