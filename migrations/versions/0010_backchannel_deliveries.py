"""back-channel logout deliveries kept in the database until the portal has them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 12:26:53

Until now a logout token was sent once from a thread and forgotten when the portal
did not answer; each is now a row, retried by any node until delivered or given up.
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'backchannel_deliveries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('jti', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('next_attempt_at', sa.Float(), nullable=False),
        sa.Column('give_up_at', sa.Float(), nullable=False),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('backchannel_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_backchannel_client', ['client_id', 'state'], unique=False)
        batch_op.create_index('ix_backchannel_due', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('backchannel_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_backchannel_due')
        batch_op.drop_index('ix_backchannel_client')
    op.drop_table('backchannel_deliveries')
