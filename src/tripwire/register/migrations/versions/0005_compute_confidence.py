"""How sure a source is of a model's training compute, and every figure as each file gave it.

`models.compute_confidence` holds a source's confidence label (Epoch AI's Confident, Likely,
Speculative, Unknown). `model_figures` keeps each file's figures for a model, so a revised
figure in a later export does not erase the earlier one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("compute_confidence", sa.String(20)))
    op.create_table(
        "model_figures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("source_files.id"),
                  nullable=False),
        sa.Column("release_date", sa.Date),
        sa.Column("params", sa.Double),
        sa.Column("tokens", sa.Double),
        sa.Column("compute_flop", sa.Double),
        sa.Column("compute_method", sa.String(20)),
        sa.Column("compute_confidence", sa.String(20)),
    )
    op.create_index("ix_model_figures_model_id", "model_figures", ["model_id"])
    op.create_index("ix_model_figures_source_file_id", "model_figures", ["source_file_id"])


def downgrade() -> None:
    op.drop_index("ix_model_figures_source_file_id", "model_figures")
    op.drop_index("ix_model_figures_model_id", "model_figures")
    op.drop_table("model_figures")
    op.drop_column("models", "compute_confidence")
