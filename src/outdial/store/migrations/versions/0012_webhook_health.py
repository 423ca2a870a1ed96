"""webhook subscriptions: their health (failing since, dead letters in a row) and why and
when outdial disabled one that kept failing

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 01:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from outdial.store.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions') as batch:
        batch.add_column(sa.Column('failing_since', UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column('dead_in_row', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(sa.Column('disabled_reason', sa.String(500), nullable=True))
        batch.add_column(sa.Column('disabled_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('webhook_subscriptions') as batch:
        batch.alter_column('dead_in_row', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions') as batch:
        for name in ('disabled_at', 'disabled_reason', 'dead_in_row', 'failing_since'):
            batch.drop_column(name)
