"""robot-then-human transfers: a script's fallback and wait, an attempt's transfer and the
instant an agent was connected

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scripts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('transfer_fallback', sa.String(length=16), nullable=False,
                      server_default='continue')
        )
        batch_op.add_column(
            sa.Column('transfer_wait_seconds', sa.Integer(), nullable=False, server_default='0')
        )
    with op.batch_alter_table('scripts', schema=None) as batch_op:
        batch_op.alter_column('transfer_fallback', server_default=None)
        batch_op.alter_column('transfer_wait_seconds', server_default=None)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('transfer_result', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('transfer_result')
        batch_op.drop_column('transferred_at')
        batch_op.drop_column('connected_at')
    with op.batch_alter_table('scripts', schema=None) as batch_op:
        batch_op.drop_column('transfer_wait_seconds')
        batch_op.drop_column('transfer_fallback')
