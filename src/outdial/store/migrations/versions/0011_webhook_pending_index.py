"""webhook deliveries: a partial index of the pending ones (subscription, due time), so the
delivery worker finds the subscriptions with work waiting by skipping through it, whatever
the number of idle subscriptions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pending = sa.text("state = 'pending'")
    op.create_index(
        'ix_webhook_deliveries_pending', 'webhook_deliveries',
        ['subscription_id', 'next_attempt_at'], unique=False,
        sqlite_where=pending, postgresql_where=pending,
    )


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_pending', table_name='webhook_deliveries')
