"""attempts: an index of (campaign_id, number, created_at), so the dial-instant facts of a
batch of numbers (``number IN (…)`` within a campaign) are index probes; SQLite would otherwise
scan the campaign's attempts through (campaign_id, id)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:15:00
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_attempts_campaign_id_number_created_at', 'attempts',
        ['campaign_id', 'number', 'created_at'], unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_attempts_campaign_id_number_created_at', table_name='attempts')
