"""The ETag an object store gave a file read from it (`s3://...`), beside its size: an object
whose ETag and size match the latest stored version of its URL is known unchanged without
downloading it. NULL for local files.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_files", sa.Column("etag", sa.Text))
    op.create_index("ix_source_files_path", "source_files", ["path"])


def downgrade() -> None:
    op.drop_index("ix_source_files_path", "source_files")
    op.drop_column("source_files", "etag")
