"""personal data encrypted at rest: data keys, text columns for envelopes, blind indexes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:00:00

The personal columns become text (an envelope is longer than the value) and the looked-up
ones gain a blind-index column; uniqueness moves from the CCCD (and an account's phone) to
their blind index. This revision changes the schema only: the rows already there are
encrypted afterwards by `idp data encrypt`, in committed batches with progress, which is
safe to stop and rerun (it picks up the rows still in clear). Run it before the new
version serves logins: until a row is encrypted it has no blind index to be found by.

Downgrade restores the column types and drops the keys: only for a database whose rows
are not encrypted (ciphertext does not fit the old columns, and the keys go).
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# table -> its encrypted columns and the type each had before.
ENCRYPTED = {
    'accounts': {'cccd': sa.String(length=12), 'full_name': sa.String(length=100),
                 'birthdate': sa.Date(), 'email': sa.String(length=254),
                 'bhxh_code': sa.String(length=10)},
    'otp_phones': {'phone': sa.String(length=16)},
    'complaints': {'cccd': sa.String(length=12), 'full_name': sa.String(length=100),
                   'phone': sa.String(length=16), 'email': sa.String(length=254)},
    'phone_reset_requests': {'new_phone': sa.String(length=16),
                             'evidence_number': sa.String(length=32)},
    'account_certificates': {'common_name': sa.String(length=200),
                             'cccd': sa.String(length=12)},
}
# The unnamed unique constraints of 0001, under the name each dialect gave them.
OLD_UNIQUE = {
    'accounts': ('accounts_cccd_key', 'uq_accounts_cccd'),
    'otp_phones': ('otp_phones_account_id_phone_key', 'uq_otp_phones_account_id'),
}
OLD_UNIQUE_COLUMNS = {'accounts': ['cccd'], 'otp_phones': ['account_id', 'phone']}
SQLITE_NAMES = {'uq': 'uq_%(table_name)s_%(column_0_name)s'}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    op.create_table(
        'data_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=8), nullable=False),
        sa.Column('wrapped', sa.String(length=200), nullable=False),
        sa.Column('kek', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_data_keys_index', 'data_keys', ['purpose'], unique=True,
                    sqlite_where=sa.text("purpose = 'index'"),
                    postgresql_where=sa.text("purpose = 'index'"))
    postgresql = _postgresql()
    for table, columns in ENCRYPTED.items():
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMES) as batch_op:
            if table in OLD_UNIQUE:
                batch_op.drop_constraint(OLD_UNIQUE[table][0 if postgresql else 1],
                                         type_='unique')
            for column, old_type in columns.items():
                using = {'postgresql_using': f'{column}::text'} if postgresql else {}
                batch_op.alter_column(column, existing_type=old_type, type_=sa.Text(),
                                      **using)
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(sa.Column('cccd_index', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_accounts_cccd_index', ['cccd_index'], unique=True)
    with op.batch_alter_table('otp_phones') as batch_op:
        batch_op.add_column(sa.Column('phone_index', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_otp_phones_account_phone', ['account_id', 'phone_index'],
                              unique=True)
        batch_op.create_index('ix_otp_phones_phone_index', ['phone_index'])


def downgrade() -> None:
    with op.batch_alter_table('otp_phones') as batch_op:
        batch_op.drop_index('ix_otp_phones_phone_index')
        batch_op.drop_index('uq_otp_phones_account_phone')
        batch_op.drop_column('phone_index')
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_index('uq_accounts_cccd_index')
        batch_op.drop_column('cccd_index')
    postgresql = _postgresql()
    for table, columns in ENCRYPTED.items():
        with op.batch_alter_table(table) as batch_op:
            for column, old_type in columns.items():
                using = ({'postgresql_using': f'{column}::date'}
                         if postgresql and isinstance(old_type, sa.Date) else {})
                batch_op.alter_column(column, existing_type=sa.Text(), type_=old_type,
                                      **using)
            if table in OLD_UNIQUE:
                batch_op.create_unique_constraint(OLD_UNIQUE[table][0 if postgresql else 1],
                                                  OLD_UNIQUE_COLUMNS[table])
    op.drop_index('uq_data_keys_index', table_name='data_keys')
    op.drop_table('data_keys')
