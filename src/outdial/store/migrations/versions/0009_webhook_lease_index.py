"""webhook deliveries: a partial index of the live leases (subscription, expiry), so counting
a subscription's requests in flight reads a handful of rows, not its whole backlog

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    live = sa.text('lease_expires_at IS NOT NULL')
    op.create_index(
        'ix_webhook_deliveries_live_leases', 'webhook_deliveries',
        ['subscription_id', 'lease_expires_at'], unique=False,
        sqlite_where=live, postgresql_where=live,
    )


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_live_leases', table_name='webhook_deliveries')
