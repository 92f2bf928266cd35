"""whether an account's birth date was checked

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:30:00

A citizen who registers with a USB token or a SIM signature whose certificate carries no
birth date types it; such a date is kept but never released to portals as checked. Every
earlier account's birth date came from a registry, the counter or such a typed form: the
level-3 accounts (verified_by usb_token or sim_signature) are marked unverified, since
until now their date was always typed.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birthdate_verified', sa.Boolean(),
                                      server_default=sa.text('true'), nullable=False))
    op.execute(
        "UPDATE accounts SET birthdate_verified = false "
        "WHERE birthdate IS NOT NULL AND verified_by IN ('usb_token', 'sim_signature')"
    )


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('birthdate_verified')
