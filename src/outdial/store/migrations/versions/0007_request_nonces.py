"""request nonces: the signature nonces a facade has accepted, kept until their window ends,
so a replayed signed request is refused (Alibaba's SignatureNonceUsed)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('request_nonces',
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'nonce', name=op.f('pk_request_nonces'))
    )
    op.create_index(op.f('ix_request_nonces_expires_at'), 'request_nonces', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_request_nonces_expires_at'), table_name='request_nonces')
    op.drop_table('request_nonces')
