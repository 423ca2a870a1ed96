"""preview (manual) tasks: an agent's hold on a contact, its dial request and its end

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('previews',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('tenant_id', ID, nullable=False),
    sa.Column('campaign_id', ID, nullable=False),
    sa.Column('contact_id', ID, nullable=False),
    sa.Column('phone_id', ID, nullable=False),
    sa.Column('agent_id', ID, nullable=False),
    sa.Column('attempt_id', ID, nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dial_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_previews_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_previews_attempt_id_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_previews_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_previews_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['phone_id'], ['contact_phones.id'], name=op.f('fk_previews_phone_id_contact_phones'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_previews_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_previews'))
    )
    with op.batch_alter_table('previews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_previews_agent_id_state'), ['agent_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_previews_campaign_id_state'), ['campaign_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('previews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_previews_campaign_id_state'))
        batch_op.drop_index(batch_op.f('ix_previews_agent_id_state'))
    op.drop_table('previews')
