"""staff replace the password and TOTP secret an admin handed them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:25:00

Existing staff were created by an admin too, so they are asked at their next login.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_replace_credentials', sa.Boolean(),
                                      server_default=sa.text('true'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_column('must_replace_credentials')
