"""The record covers the evidence: `evidence_blocks` keeps the canonical rows each committing
entry (ingest, update, alias, samples, baseline) stored, in blocks whose Merkle roots combine to
the root the entry carries; append-only by trigger, like the record.

Rows stored before this revision are committed as found by one `baseline` entry, written by
`tripwire.register.engine.upgrade` in the same transaction as this migration (see
`tripwire.register.evidence.commit_baseline`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "evidence_blocks"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("tbl", sa.String(40), nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("first_key", sa.BigInteger),
        sa.Column("last_key", sa.BigInteger),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_evidence_blocks_tbl_first", TABLE, ["tbl", "first_key"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {action} refused'); END"
            )
    elif dialect == "postgresql":
        # tripwire_append_only() was created by revision 0003.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION tripwire_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION tripwire_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    elif dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    op.drop_index("ix_evidence_blocks_tbl_first", TABLE)
    op.drop_table(TABLE)
