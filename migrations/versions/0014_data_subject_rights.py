"""data-subject rights: "not me" complaints, audit retention checkpoints

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:30:00

Complaints gain a kind (the existing ones are `registration`), the reported account and
login for "Không phải tôi" complaints; refresh tokens the handle of the session whose
login issued them (tokens issued before have none: "Không phải tôi" misses those). The
audit log gains the sealed checkpoints of `idp data purge`.
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('through_id', BigId, nullable=False),
        sa.Column('rows_purged', sa.Integer(), nullable=False),
        sa.Column('links_digest', sa.String(length=64), nullable=False),
        sa.Column('prev_seal', sa.String(length=64), nullable=False),
        sa.Column('seal', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'audit_links',
        sa.Column('checkpoint_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('row_id', BigId, autoincrement=False, nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('prev_kept_id', BigId, nullable=False),
        sa.PrimaryKeyConstraint('checkpoint_id', 'row_id'),
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                      server_default='registration'))
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('event_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('event', sa.JSON(), nullable=True))
        batch_op.create_unique_constraint('uq_complaints_event_id', ['event_id'])
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_session', sa.String(length=24), nullable=True))


def downgrade() -> None:
    op.drop_table('audit_links')
    op.drop_table('audit_checkpoints')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('login_session')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint('uq_complaints_event_id', type_='unique')
        batch_op.drop_column('event')
        batch_op.drop_column('event_id')
        batch_op.drop_column('account_id')
        batch_op.drop_column('kind')
