"""The SQL schema (SQLAlchemy Core). Alembic migrations must produce exactly this."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from outdial.store.types import Id, Json, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _pk() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _uuid() -> Column[str]:
    return Column("uuid", String(36), nullable=False, unique=True)


def _tenant() -> Column[int]:
    return Column("tenant_id", Id, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _ref(name: str, table: str, nullable: bool = True) -> Column[int]:
    return Column(name, Id, ForeignKey(f"{table}.id"), nullable=nullable)


def _stamps() -> list[Column[object]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


tenants = Table(
    "tenants",
    metadata,
    _pk(),
    _uuid(),
    Column("name", String(100), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("default_region", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("max_contacts_per_campaign", Integer, nullable=False),
    *_stamps(),
)

credentials = Table(
    "credentials",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("kind", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("key_id", String(128), nullable=False),
    Column("secret_hash", String(64)),
    Column("secret_encrypted", Text),
    Column("public_key", Text),
    Column("status", String(16), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("rotated_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    *_stamps(),
    UniqueConstraint("kind", "key_id"),
)

lines = Table(
    "lines",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("driver", String(16), nullable=False),
    Column("channels", Integer, nullable=False),
    Column("caller_numbers", Json, nullable=False),
    Column("settings", Json, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("expires_at", UTCDateTime()),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

number_groups = Table(
    "number_groups",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    _ref("line_id", "lines"),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("numbers", Json, nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

skill_groups = Table(
    "skill_groups",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    _ref("line_id", "lines"),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("enabled", Boolean, nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

agents = Table(
    "agents",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("name", String(100), nullable=False),
    Column("external_id", String(64)),
    Column("endpoint", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_changed_at", UTCDateTime(), nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

agent_skill_groups = Table(
    "agent_skill_groups",
    metadata,
    Column("agent_id", Id, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "skill_group_id", Id, ForeignKey("skill_groups.id", ondelete="CASCADE"), primary_key=True
    ),
    Index(None, "skill_group_id"),
)

scripts = Table(
    "scripts",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    _ref("transfer_skill_group_id", "skill_groups"),
    Column("transfer_fallback", String(16), nullable=False),
    Column("transfer_wait_seconds", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("extension", String(64), nullable=False),
    Column("dialplan", String(32), nullable=False),
    Column("context", String(64), nullable=False),
    Column("debug", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("settings", Json, nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

blackout_calendars = Table(
    "blackout_calendars",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("timezone", String(64)),
    Column("weekly", Json, nullable=False),
    Column("dated", Json, nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

redial_policies = Table(
    "redial_policies",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("rules", Json, nullable=False),
    Column("skip_invalid_number", Boolean, nullable=False),
    Column("skip_suspended", Boolean, nullable=False),
    Column("skip_in_arrears", Boolean, nullable=False),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
)

dnc_entries = Table(
    "dnc_entries",
    metadata,
    _pk(),
    Column("tenant_id", Id, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("number", String(20), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("source", String(32), nullable=False),
    Column("expires_at", UTCDateTime()),
    *_stamps(),
    UniqueConstraint("tenant_id", "number"),
    Index(
        "uq_dnc_entries_global_number",
        "number",
        unique=True,
        sqlite_where=Column("tenant_id").is_(None),
        postgresql_where=Column("tenant_id").is_(None),
    ),
)

campaigns = Table(
    "campaigns",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_reason", String(200), nullable=False),
    Column("period_start", UTCDateTime()),
    Column("period_end", UTCDateTime()),
    Column("windows", Json, nullable=False),
    Column("repeat_by", String(8), nullable=False),
    Column("repeat_days", Json, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("use_contact_timezone", Boolean, nullable=False),
    _ref("blackout_calendar_id", "blackout_calendars"),
    _ref("line_id", "lines"),
    _ref("number_group_id", "number_groups"),
    Column("caller_numbers", Json, nullable=False),
    Column("routing_strategy", String(32), nullable=False),
    _ref("skill_group_id", "skill_groups"),
    _ref("script_id", "scripts"),
    _ref("redial_policy_id", "redial_policies"),
    Column("pacing_mode", String(16), nullable=False),
    Column("ratio", Float, nullable=False),
    Column("abandon_target_percent", Float, nullable=False),
    Column("max_concurrency", Integer, nullable=False),
    Column("call_gap_seconds", Float, nullable=False),
    Column("ring_timeout_seconds", Integer, nullable=False),
    Column("acw_seconds", Integer, nullable=False),
    Column("max_attempts_per_day", Integer),
    Column("min_attempt_interval_seconds", Integer, nullable=False),
    Column("recall_skip", Json, nullable=False),
    Column("phone_groups", Json, nullable=False),
    Column("agent_assignments", Json, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("webhook_url", String(1000)),
    Column("webhook_type", String(16), nullable=False),
    Column("external_id", String(64)),
    Column("vendor", String(16), nullable=False),
    Column("vendor_data", Json, nullable=False),
    Column("started_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("worker_id", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    *_stamps(),
    UniqueConstraint("tenant_id", "name"),
    Index(None, "state"),
)

contacts = Table(
    "contacts",
    metadata,
    _pk(),
    _uuid(),
    # the tenant is the campaign's (no key of its own: the campaign's cascade covers it, and a
    # per-row key check would cost bulk imports a fifth of their time on PostgreSQL)
    Column("tenant_id", Id, nullable=False),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(500), nullable=False),
    Column("external_id", String(64)),
    Column("pass_through", String(1000), nullable=False),
    Column("attributes", Json, nullable=False),
    Column("timezone", String(64)),
    Column("primary_number", String(20), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", String(32)),
    Column("reason", String(64), nullable=False),
    Column("next_eligible_at", UTCDateTime()),
    Column("attempt_count", Integer, nullable=False),
    Column("last_attempt_at", UTCDateTime()),
    Column("phone_index", Integer, nullable=False),
    Column("assigned_agent_id", Id, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    *_stamps(),
    UniqueConstraint("campaign_id", "primary_number"),
    Index(None, "campaign_id", "state", "next_eligible_at"),
    Index(None, "campaign_id", "external_id"),
    Index(None, "campaign_id", "id"),  # a campaign's contacts in id order (exports)
)

contact_phones = Table(
    "contact_phones",
    metadata,
    _pk(),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("campaign_id", Id, nullable=False),  # the contact's (its cascade covers the phone)
    Column("position", Integer, nullable=False),
    Column("number", String(20), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("phone_group", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempt_count", Integer, nullable=False),
    Column("last_attempt_at", UTCDateTime()),
    Column("last_outcome", String(32)),
    UniqueConstraint("contact_id", "position"),
    Index(None, "campaign_id", "number"),
)

attempts = Table(
    "attempts",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("phone_id", Id, ForeignKey("contact_phones.id", ondelete="CASCADE"), nullable=False),
    Column("number", String(20), nullable=False),
    Column("caller_number", String(32), nullable=False),
    _ref("line_id", "lines"),
    Column("agent_id", Id, ForeignKey("agents.id", ondelete="SET NULL")),
    Column("worker_id", String(64), nullable=False),
    Column("call_id", String(128)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("ringing_at", UTCDateTime()),
    Column("answered_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("outcome", String(32)),
    Column("native_cause", String(64), nullable=False),
    Column("talk_seconds", Float, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    Column("connected_at", UTCDateTime()),
    Column("transferred_at", UTCDateTime()),
    Column("transfer_result", String(16)),
    Column("data", Json, nullable=False),
    Index(None, "campaign_id", "outcome"),
    Index(None, "campaign_id", "id"),  # a campaign's attempts in id order (exports)
    Index(None, "contact_id"),
    Index(None, "number", "created_at"),
    Index(None, "campaign_id", "number", "created_at"),  # a dial step's numbers' facts
    Index(None, "line_id", "ended_at"),
)

events = Table(
    "events",
    metadata,
    _pk(),
    _tenant(),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Json, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "campaign_id", "id"),
)

engine_workers = Table(
    "engine_workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
)

previews = Table(
    "previews",
    metadata,
    _pk(),
    _tenant(),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("phone_id", Id, ForeignKey("contact_phones.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", Id, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_id", Id, ForeignKey("attempts.id", ondelete="SET NULL")),
    Column("state", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("dial_requested_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    *_stamps(),
    Index(None, "campaign_id", "state"),
    Index(None, "agent_id", "state"),
)
"""Preview (manual) tasks: an agent holds a contact, then dials or skips it (engine/preview.py)."""

jobs = Table(
    "jobs",
    metadata,
    _pk(),
    _uuid(),
    Column("tenant_id", Id, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("params", Json, nullable=False),
    Column("progress", Json, nullable=False),
    Column("result", Json, nullable=False),
    Column("error", Json),
    Column("worker_id", String(64)),
    Column("heartbeat_at", UTCDateTime()),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    *_stamps(),
    Index(None, "state", "id"),
    Index(None, "tenant_id", "id"),
)
"""Background jobs (contact and DNC imports, exports): their files live under the data dir."""

request_nonces = Table(
    "request_nonces",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
)
"""Signature nonces a facade accepted (scope: the facade and the key id), until they expire."""

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    _pk(),
    _uuid(),
    _tenant(),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("url", String(1000), nullable=False),
    Column("events", Json, nullable=False),
    Column("outcomes", Json),
    Column("description", String(500), nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("max_concurrency", Integer, nullable=False),
    Column("max_tries", Integer, nullable=False),
    Column("format", String(16), nullable=False),
    Column("managed_by", String(16)),  # "campaign": follows the campaign's webhook_url
    Column("failing_since", UTCDateTime()),  # its first failed try since its last success
    Column("dead_in_row", Integer, nullable=False),  # dead letters since its last success
    Column("disabled_reason", String(500)),  # why outdial disabled it (None: it did not)
    Column("disabled_at", UTCDateTime()),
    *_stamps(),
    Index(None, "tenant_id", "campaign_id"),
)
"""Webhook subscriptions: a tenant's (campaign_id NULL: all its campaigns) or a campaign's."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _pk(),
    Column("event_id", String(36), nullable=False),
    Column("tenant_id", Id, nullable=False),  # the subscription's (its cascade covers it)
    Column(
        "subscription_id",
        Id,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("campaign_id", Id),
    Column("event", String(32), nullable=False),
    Column("payload", Json, nullable=False),
    Column("state", String(16), nullable=False),
    Column("tries", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    Column("last_status", Integer),
    Column("last_error", String(500)),
    Column("last_tried_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("replays", Integer, nullable=False),
    *_stamps(),
    UniqueConstraint("subscription_id", "event_id"),
    Index(None, "state", "next_attempt_at"),
    Index(None, "subscription_id", "state", "next_attempt_at"),
    Index(
        "ix_webhook_deliveries_live_leases",
        "subscription_id",
        "lease_expires_at",
        sqlite_where=Column("lease_expires_at").is_not(None),
        postgresql_where=Column("lease_expires_at").is_not(None),
    ),
    Index(  # the subscriptions with work waiting, skipped through by the claim
        "ix_webhook_deliveries_pending",
        "subscription_id",
        "next_attempt_at",
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
)
"""The webhook outbox: one row per event and subscription, written in the transaction of the
change that caused the event; the delivery worker leases due rows, tries them, and records
the result (delivered, a later try, or a dead letter)."""
