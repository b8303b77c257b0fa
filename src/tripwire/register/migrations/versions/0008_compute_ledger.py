"""The compute ledger: the parts of a model's training compute (pre-training, fine-tuning,
synthetic data, merged weights, other), how each was counted, and which regimes count it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.Text, nullable=False),
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
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"),
                  nullable=False),
    )
    op.create_index("ix_compute_ledger_model", "compute_ledger", ["model"])
    op.create_index("ix_compute_ledger_source_file_id", "compute_ledger", ["source_file_id"])


def downgrade() -> None:
    op.drop_table("compute_ledger")
