"""identity shares by QR code

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:24:18

Which items a citizen shares by QR code, until when, and the share's entry in a
revocation status list. The values themselves are read from the account when the code is
read, so nothing is copied here.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('code_sealed', sa.String(length=200), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=True),
    sa.Column('one_time', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_count', sa.Integer(), nullable=False),
    sa.Column('last_read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_read_ip', sa.String(length=45), nullable=True),
    sa.Column('status_list', sa.Integer(), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_digest'),
    sa.UniqueConstraint('status_list', 'status_index')
    )
    with op.batch_alter_table('identity_shares', schema=None) as batch_op:
        batch_op.create_index('ix_identity_shares_account', ['account_id', 'expires_at'], unique=False)
        batch_op.create_index('ix_identity_shares_expires', ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('identity_shares', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_shares_expires')
        batch_op.drop_index('ix_identity_shares_account')

    op.drop_table('identity_shares')
