"""Webhook subscriptions (a tenant's, or one campaign's), their deliveries and the replay of
dead letters. The events themselves go into the outbox where they happen (store/outbox.py);
io/webhooks.py delivers them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, and_, func, insert, select, update

from outdial.clock import Clock
from outdial.domain import limits
from outdial.domain.errors import Conflict, NotFound
from outdial.domain.outcomes import Outcome
from outdial.domain.webhooks import DeliveryState, WebhookEvent, WebhookFormat
from outdial.services.common import Page, PageRequest, Tenant, new_uuid, parse_choice
from outdial.services.models import WebhookIn
from outdial.services.resources import (
    Hooks,
    ResourceKind,
    ResourceService,
    parse_bool,
    parse_int,
)
from outdial.services.secrets import SecretBox, random_text
from outdial.store import outbox
from outdial.store.repo import valid_id
from outdial.store.schema import campaigns, webhook_deliveries, webhook_subscriptions
from outdial.store.store import Store

SECRET_LENGTH = 40
DELIVERY_FILTERS = ("state", "event")
MANAGED_BY_CAMPAIGN = "campaign"
d = webhook_deliveries


class WebhookHooks(Hooks):
    def __init__(self, box: SecretBox):
        self.box = box

    def values(
        self, tenant: Tenant, data: Any, current: dict[str, Any] | None, now: datetime
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if data.secret is not None:
            values["secret_encrypted"] = self.box.seal(data.secret)
        if current is None:
            values |= {"format": WebhookFormat.OUTDIAL.value, "managed_by": None}
        if current is None or bool(data.enabled) != bool(current["enabled"]):
            values |= HEALTHY  # enabled again (or disabled by hand): its failures forgotten
        return values

    def present(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "secret_encrypted"} for r in rows]

    def check_update(self, current: dict[str, Any]) -> None:
        _not_managed(current)

    def check_delete(self, conn: Connection, row: dict[str, Any]) -> None:
        _not_managed(row)


HEALTHY = {"failing_since": None, "dead_in_row": 0, "disabled_reason": None, "disabled_at": None}


def _not_managed(row: dict[str, Any]) -> None:
    if row["managed_by"] == MANAGED_BY_CAMPAIGN:
        raise Conflict(
            f"webhook {row['id']} follows campaign {row['campaign_id']}'s webhook_url; "
            "change or clear it on the campaign"
        )


def webhook_kind(box: SecretBox) -> ResourceKind:
    return ResourceKind(
        label="webhook",
        table=webhook_subscriptions,
        model=WebhookIn,
        refs={"campaign_id": campaigns},
        filters={
            "campaign_id": lambda v: (
                webhook_subscriptions.c.campaign_id == parse_int("campaign_id", v)
            ),
            "enabled": lambda v: webhook_subscriptions.c.enabled.is_(parse_bool("enabled", v)),
        },
        hooks=WebhookHooks(box),
    )


WEBHOOK_FILTERS = ("campaign_id", "enabled")


class WebhookService(ResourceService):
    def __init__(self, store: Store, clock: Clock, box: SecretBox):
        super().__init__(store, clock, webhook_kind(box))
        self.box = box

    def create(
        self, tenant: Tenant, data: BaseModel, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Subscribe; the reply carries the signing secret (the one given, or a new one)."""
        assert isinstance(data, WebhookIn)
        secret = data.secret or random_text(SECRET_LENGTH)
        row = super().create(tenant, data.model_copy(update={"secret": secret}), extra)
        return {**row, "secret": secret}

    def rotate_secret(self, tenant: Tenant, webhook_id: int) -> dict[str, Any]:
        """A new generated secret, in force for the next try of every delivery."""
        secret = random_text(SECRET_LENGTH)
        row = self.update(tenant, webhook_id, {"secret": secret})
        return {**row, "secret": secret}

    # --- deliveries -------------------------------------------------------------------------

    def deliveries(
        self, tenant: Tenant, webhook_id: int, page: PageRequest, filters: Mapping[str, str]
    ) -> Page:
        where = [d.c.subscription_id == webhook_id, *_delivery_filters(filters)]
        with self.store.read() as conn:
            self.get_in(conn, tenant, webhook_id)
            total = conn.scalar(select(func.count()).select_from(d).where(*where)) or 0
            query = select(d).where(*where).order_by(d.c.id.desc())
            rows = conn.execute(query.offset(page.offset).limit(page.page_size))
            return Page([dict(r._mapping) for r in rows], total, page.page, page.page_size)

    def delivery(self, tenant: Tenant, webhook_id: int, delivery_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._delivery(conn, tenant, webhook_id, delivery_id)

    def replay(self, tenant: Tenant, webhook_id: int, delivery_id: int) -> dict[str, Any]:
        """A dead letter due again now, its tries back to zero (same event id: receivers
        that saw it already recognise it). 409 for a delivery that is not dead."""
        with self.store.write() as conn:
            row = self._delivery(conn, tenant, webhook_id, delivery_id)
            if row["state"] != DeliveryState.DEAD.value:
                raise Conflict(
                    f"delivery {delivery_id} is {row['state']}; only dead letters are replayed",
                    state=row["state"],
                )
            outbox.replay(conn, d.c.id == delivery_id, self.clock.now())
            return self._delivery(conn, tenant, webhook_id, delivery_id)

    def replay_dead(self, tenant: Tenant, webhook_id: int) -> dict[str, int]:
        """Every dead letter of the subscription due again now."""
        with self.store.write() as conn:
            self.get_in(conn, tenant, webhook_id)
            count = outbox.replay(conn, d.c.subscription_id == webhook_id, self.clock.now())
        return {"replayed": count}

    def _delivery(
        self, conn: Connection, tenant: Tenant, webhook_id: int, delivery_id: int
    ) -> dict[str, Any]:
        self.get_in(conn, tenant, webhook_id)
        if not valid_id(delivery_id):
            raise NotFound(f"delivery {delivery_id} not found")
        query = select(d).where(and_(d.c.id == delivery_id, d.c.subscription_id == webhook_id))
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return dict(row._mapping)


def _delivery_filters(filters: Mapping[str, str]) -> list[Any]:
    where = []
    if "state" in filters:
        where.append(d.c.state == parse_choice("state", filters["state"], DeliveryState))
    if "event" in filters:
        where.append(d.c.event == parse_choice("event", filters["event"], WebhookEvent))
    return where


# --- a campaign's webhook_url (云蝠 call_notify_url) ---------------------------------------

CAMPAIGN_EVENTS = [WebhookEvent.ATTEMPT_ENDED.value]
ANSWERED_ONLY = [Outcome.ANSWERED.value]


def campaign_webhooks_disabled(conn: Connection, campaign_ids: list[int]) -> dict[int, str]:
    """The campaigns (of ``campaign_ids``) whose own webhook_url outdial disabled, and why."""
    s = webhook_subscriptions
    query = select(s.c.campaign_id, s.c.disabled_reason).where(
        s.c.campaign_id.in_(campaign_ids),
        s.c.managed_by == MANAGED_BY_CAMPAIGN,
        s.c.disabled_reason.is_not(None),
    )
    return {int(r.campaign_id): str(r.disabled_reason) for r in conn.execute(query)}


def sync_campaign_webhook(conn: Connection, campaign: dict[str, Any], box: SecretBox) -> None:
    """Make the campaign's webhook_url its own subscription (``managed_by`` campaign): every
    finished call (``webhook_type`` all) or the answered ones (answered), POSTed in the
    campaign's vendor's shape (云蝠's call notification for its tasks). A cleared URL
    disables it (its deliveries are kept)."""
    s = webhook_subscriptions
    now = campaign["updated_at"]
    current = conn.execute(
        select(s.c.id, s.c.url, s.c.outcomes, s.c.format, s.c.enabled, s.c.disabled_reason).where(
            s.c.campaign_id == campaign["id"], s.c.managed_by == MANAGED_BY_CAMPAIGN
        )
    ).one_or_none()
    url = campaign["webhook_url"]
    if not url:
        if current is not None and current.enabled:
            conn.execute(
                update(s).where(s.c.id == current.id).values(enabled=False, updated_at=now)
            )
        return
    wanted_fmt = WebhookFormat.YUNFU if campaign["vendor"] == "yunfu" else WebhookFormat.OUTDIAL
    values = {
        "url": str(url),
        "events": CAMPAIGN_EVENTS,
        "outcomes": ANSWERED_ONLY if campaign["webhook_type"] == "answered" else None,
        "format": wanted_fmt.value,
        "enabled": True,
    }
    if current is not None and current.disabled_reason and current.url == values["url"]:
        values["enabled"] = False  # outdial disabled it (failing): a new URL enables it again
    if current is None:
        conn.execute(
            insert(s).values(
                **values,
                uuid=new_uuid(),
                tenant_id=campaign["tenant_id"],
                campaign_id=campaign["id"],
                description=f"campaign {campaign['id']}'s webhook_url",
                secret_encrypted=box.seal(random_text(SECRET_LENGTH)),
                max_concurrency=limits.WEBHOOK_CONCURRENCY_DEFAULT,
                max_tries=limits.WEBHOOK_TRIES_DEFAULT,
                managed_by=MANAGED_BY_CAMPAIGN,
                **HEALTHY,
                created_at=now,
                updated_at=now,
            )
        )
    elif {k: getattr(current, k) for k in ("url", "outcomes", "format", "enabled")} != {
        k: values[k] for k in ("url", "outcomes", "format", "enabled")
    }:
        healed = HEALTHY if values["enabled"] else {}
        conn.execute(
            update(s).where(s.c.id == current.id).values(**values, **healed, updated_at=now)
        )
