"""audit rows of staff actions indexed (partial index: actor IS NOT NULL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 08:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_staff', ['actor', 'id'], unique=False,
                              postgresql_where=sa.text('actor IS NOT NULL'),
                              sqlite_where=sa.text('actor IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_staff')
