"""audit rows over independent hash chains; 64-bit ids for audit rows and refresh tokens;
refresh tokens indexed by expiry (for `idp tokens purge`)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:50:00

Rows written before this revision form chain 0, as they were sealed. On PostgreSQL the
ids of the two tables that grow with traffic become BIGINT (column and sequence); SQLite's
INTEGER PRIMARY KEY is 64-bit already.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

GROWING = ('audit_events', 'refresh_tokens')


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.SmallInteger(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_audit_events_chain', ['chain', 'id'], unique=False)
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_refresh_tokens_expires', ['expires_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for table in GROWING:
            op.alter_column(table, 'id', type_=sa.BigInteger(), existing_type=sa.Integer())
            op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in GROWING:
            op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
            op.alter_column(table, 'id', type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_refresh_tokens_expires')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_chain')
        batch_op.drop_column('chain')
