"""Which evaluation run a stored file records: one Inspect run saved as `.eval` and as `.json`
is two files with different bytes but one run, and is stored once.

`run_key` is the SHA-256 of the run's identity (Inspect's `eval_id`) and of the results the
file holds, so a re-scored log of the same run (new scores, same `eval_id`) is still stored.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_files", sa.Column("run_key", sa.String(64)))
    op.create_index("ix_source_files_run_key", "source_files", ["run_key"])


def downgrade() -> None:
    op.drop_index("ix_source_files_run_key", "source_files")
    op.drop_column("source_files", "run_key")
