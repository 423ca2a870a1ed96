"""background jobs: imports, exports, their progress and files; a campaign's contacts and
attempts indexed in id order (exports); no foreign keys that another's cascade covers
(contacts.tenant_id, contact_phones.campaign_id): bulk imports check one key per row less

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', ID, nullable=True),
    sa.Column('campaign_id', ID, nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('params', JSON, nullable=False),
    sa.Column('progress', JSON, nullable=False),
    sa.Column('result', JSON, nullable=False),
    sa.Column('error', JSON, nullable=True),
    sa.Column('worker_id', sa.String(length=64), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_jobs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_jobs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('uuid', name=op.f('uq_jobs_uuid'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_state_id'), ['state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_tenant_id_id'), ['tenant_id', 'id'], unique=False)
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_campaign_id_id'), ['campaign_id', 'id'], unique=False)
        batch_op.drop_constraint('fk_contacts_tenant_id_tenants', type_='foreignkey')
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.drop_constraint('fk_contact_phones_campaign_id_campaigns', type_='foreignkey')
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempts_campaign_id_id'), ['campaign_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempts_campaign_id_id'))
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_contact_phones_campaign_id_campaigns', 'campaigns', ['campaign_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_contacts_tenant_id_tenants', 'tenants', ['tenant_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_index(batch_op.f('ix_contacts_campaign_id_id'))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_tenant_id_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_state_id'))

    op.drop_table('jobs')
