"""The date of a database export (e.g. one of Epoch AI's model databases) and what it rests on,
so that of two exports ingested in either order the later-dated one gives the current figures.
NULL for files that are not exports.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_files", sa.Column("export_date", sa.Date))
    op.add_column("source_files", sa.Column("export_basis", sa.Text))


def downgrade() -> None:
    op.drop_column("source_files", "export_basis")
    op.drop_column("source_files", "export_date")
