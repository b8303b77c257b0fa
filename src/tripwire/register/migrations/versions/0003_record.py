"""The record: append-only entries (a hash chain of RFC 8785 canonical JSON) and signed
checkpoints (Merkle tree heads), with triggers that refuse UPDATE and DELETE on both.

An entry's canonical bytes are `body` followed by ``,"prev":"<prev>","seq":<seq>,"v":1}``;
`hash` is SHA-256(0x00 || those bytes) (see tripwire.record). The triggers stop mistakes and
casual edits; an attacker who can drop them is caught by `tripwire verify`, and one who rewrites
everything consistently by an exported checkpoint. A later migration that rebuilds these tables
(Alembic batch mode on SQLite copies a table) must create the triggers again.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("record_entries", "record_checkpoints")


def upgrade() -> None:
    op.create_table(
        "record_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_record_entries_kind", "record_entries", ["kind"])
    op.create_table(
        "record_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_record_checkpoints_tree_size", "record_checkpoints", ["tree_size"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION tripwire_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; "
            "END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tripwire_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tripwire_append_only()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tripwire_append_only()")
    op.drop_table("record_checkpoints")
    op.drop_table("record_entries")
