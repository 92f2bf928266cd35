"""high-assurance clients: public keys, FAPI 2.0 profile, PAR and DPoP switches

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00

A client that authenticates with its private key (private_key_jwt) has no secret, so the
secret digest becomes optional. Refresh tokens remember the DPoP key they are bound to.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('secret_digest', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column('profile', sa.String(length=16),
                                      server_default='standard', nullable=False))
        batch_op.add_column(sa.Column('jwks', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('jwks_uri', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('require_par', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('require_dpop', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=43), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')
    # Clients without a secret cannot be kept by the older schema.
    op.execute("DELETE FROM clients WHERE secret_digest IS NULL")
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('require_dpop')
        batch_op.drop_column('require_par')
        batch_op.drop_column('jwks_uri')
        batch_op.drop_column('jwks')
        batch_op.drop_column('profile')
        batch_op.alter_column('secret_digest', existing_type=sa.String(length=64),
                              nullable=False)
