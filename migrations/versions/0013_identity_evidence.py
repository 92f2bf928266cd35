"""identity evidence behind verified_claims: registry checks, counter registrations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 13:00:00

Accounts already verified by a registry or at a counter get their evidence row from what
they recorded: the method (`verified_by`) and, as the time of the check, the account's
creation (which followed the check within the registration's lifetime). Certificates
gain their start of validity; staff their office.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'identity_evidence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('organization', sa.String(length=200), nullable=True),
        sa.Column('staff', sa.String(length=64), nullable=True),
        sa.Column('document', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('identity_evidence', schema=None) as batch_op:
        batch_op.create_index('ix_identity_evidence_account', ['account_id'], unique=False)
    op.execute(
        "INSERT INTO identity_evidence (account_id, method, checked_at) "
        "SELECT id, verified_by, created_at FROM accounts "
        "WHERE verified_by IN ('carrier', 'bhxh', 'post', 'counter')"
    )
    with op.batch_alter_table('account_certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('office', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_members', schema=None) as batch_op:
        batch_op.drop_column('office')
    with op.batch_alter_table('account_certificates', schema=None) as batch_op:
        batch_op.drop_column('not_before')
    with op.batch_alter_table('identity_evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_evidence_account')
    op.drop_table('identity_evidence')
