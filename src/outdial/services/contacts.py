"""Contacts of a campaign: batch append with a per-row verdict, reads, edits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, or_, select, text, update

from outdial.clock import Clock
from outdial.domain import limits
from outdial.domain.campaign_rules import period_has_begun
from outdial.domain.campaign_state import CampaignState, started_state
from outdial.domain.contact_actions import REASON, ContactAction, contact_target
from outdial.domain.contact_rows import (
    QuickContact,
    QuickPhone,
    RowVerdict,
    mark_dnc,
    mark_duplicates,
    quick_contact,
)
from outdial.domain.errors import (
    Conflict,
    FieldError,
    IllegalTransition,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from outdial.domain.file_rows import DEFAULT_GROUP, ReadyRows
from outdial.domain.outcomes import ContactState
from outdial.domain.phones import fast_e164, normalise
from outdial.services.assignment import assign_contacts
from outdial.services.common import Page, PageRequest, Tenant, found, new_uuids, parse_choice
from outdial.services.models import ContactAppendIn, ContactIn, PhoneIn
from outdial.services.validation import failed, validate
from outdial.store import bulk
from outdial.store.bulk import reserve_ids
from outdial.store.repo import TenantTable, valid_id
from outdial.store.schema import attempts, campaigns, contact_phones, contacts, dnc_entries
from outdial.store.store import Store

RowLock = Literal["update", "share"] | None
APPEND_LOCK_SPACE = 0x6F64  # the advisory lock space of appends to a campaign
Contact = ContactIn | QuickContact  # a row checked by the validator, or plainly valid
CLOSED_TO_APPEND = {CampaignState.CANCELLED, CampaignState.EXPIRED, CampaignState.FAILED}
EDITABLE_FIELDS = ("name", "description", "external_id", "pass_through", "attributes", "timezone")


class ContactService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self.campaigns = TenantTable(campaigns)
        self.rows = TenantTable(contacts)

    # --- append ----------------------------------------------------------------------------

    def append(self, tenant: Tenant, campaign_id: int, body: ContactAppendIn) -> dict[str, Any]:
        if len(body.contacts) > limits.CONTACTS_PER_REQUEST:
            raise LimitExceeded(
                f"at most {limits.CONTACTS_PER_REQUEST} contacts per request, "
                f"got {len(body.contacts)}",
                [
                    FieldError(
                        "contacts", f"at most {limits.CONTACTS_PER_REQUEST} per request", "too_long"
                    )
                ],
            )
        with self.store.write() as conn:
            campaign = self.campaign_for_append(conn, tenant, campaign_id)
            return self.append_in(conn, tenant, campaign, body)

    def append_in(
        self, conn: Connection, tenant: Tenant, campaign: dict[str, Any], body: ContactAppendIn
    ) -> dict[str, Any]:
        """``append`` inside the caller's transaction, to a campaign it read (and locked)
        with ``campaign_for_append``."""
        now = self.clock.now()
        campaign_id = campaign["id"]
        parsed, verdicts = self.parse_rows(tenant, campaign, body.contacts)
        self.judge_rows(conn, tenant, campaign_id, verdicts, now)
        accepted = [v for v in verdicts if v.ok]
        if body.all_or_nothing and len(accepted) < len(verdicts):
            raise failed([e for v in verdicts for e in v.errors])
        existing = self.count(conn, campaign_id)
        check_cap(tenant, existing, len(accepted))
        ids = self.insert_rows(conn, tenant, campaign_id, parsed, accepted, now)
        if accepted:
            self.contacts_added(conn, campaign, now)
        return _append_report(verdicts, ids, existing + len(accepted))

    def campaign_for_append(
        self, conn: Connection, tenant: Tenant, campaign_id: int, lock: RowLock = "update"
    ) -> dict[str, Any]:
        """The campaign, if it takes contacts. Appends to one campaign are serialised, so the
        cap check cannot race: on PostgreSQL by an advisory lock, which leaves the campaign row
        free for the engine, on SQLite by its one writer's lock. ``lock`` adds a lock on the
        row: ``update`` (a short append), ``share`` (the end of a long import: no state change
        until it commits) or None."""
        if conn.dialect.name == "postgresql":
            key = {"space": APPEND_LOCK_SPACE, "key": campaign_id % 2**31}
            conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), key)
        query = select(campaigns).where(
            campaigns.c.tenant_id == tenant.id, campaigns.c.id == campaign_id
        )
        if lock is not None:
            query = query.with_for_update(read=lock == "share")
        found_row = conn.execute(query).one_or_none() if valid_id(campaign_id) else None
        row = found(
            None if found_row is None else dict(found_row._mapping), "campaign", campaign_id
        )
        if CampaignState(row["state"]) in CLOSED_TO_APPEND:
            raise Conflict(f"cannot add contacts to a {row['state']} campaign", state=row["state"])
        return row

    def parse_rows(
        self,
        tenant: Tenant,
        campaign: Mapping[str, Any],
        raw_rows: Sequence[Mapping[str, Any] | QuickContact],
    ) -> tuple[dict[int, Contact], list[RowVerdict]]:
        """Each row checked (a QuickContact is checked already) and its numbers normalised."""
        groups = {g["identify"] for g in campaign["phone_groups"]}
        parsed: dict[int, Contact] = {}
        verdicts = []
        for i, raw in enumerate(raw_rows):
            verdict = RowVerdict(i, [])
            try:
                contact: Contact | None = (
                    raw if isinstance(raw, QuickContact) else quick_contact(raw)
                )
                if contact is None:
                    contact = validate(ContactIn, raw, prefix=f"contacts[{i}]")
                verdict.numbers = _numbers(contact, tenant, groups, i)
                parsed[i] = contact
            except ValidationFailed as exc:
                verdict.errors.extend(exc.details)
            verdicts.append(verdict)
        return parsed, verdicts

    def judge_rows(
        self,
        conn: Connection,
        tenant: Tenant,
        campaign_id: int,
        rows: list[RowVerdict],
        now: datetime,
    ) -> None:
        primaries = [r.primary for r in rows if r.ok]
        mine = contacts.c.campaign_id == campaign_id
        mark_duplicates(rows, bulk.present(conn, contacts.c.primary_number, primaries, mine))
        all_numbers = {n for r in rows if r.ok for n in r.numbers}
        mark_dnc(rows, blocked_numbers(conn, tenant.id, all_numbers, now))

    def count(self, conn: Connection, campaign_id: int) -> int:
        query = (
            select(func.count()).select_from(contacts).where(contacts.c.campaign_id == campaign_id)
        )
        return conn.scalar(query) or 0

    def insert_rows(
        self,
        conn: Connection,
        tenant: Tenant,
        campaign_id: int,
        parsed: dict[int, Contact],
        accepted: list[RowVerdict],
        now: datetime,
        staged: str | None = None,
    ) -> dict[int, int]:
        """Insert the accepted rows (bulk: ids reserved, then COPY or executemany); ``staged``
        (a file import's tag) keeps them from being dialed until publish_staged. Returns the
        new contact id of each row index."""
        if not accepted:
            return {}
        ids = reserve_ids(conn, contacts, len(accepted))
        reason, due, owner, until = _new_state(now) if staged is None else _staged_state(staged)
        pending = ContactState.PENDING.value
        rows, phones = [], []
        for cid, uuid, v in zip(ids, new_uuids(len(accepted), now), accepted, strict=True):
            c = parsed[v.index]
            rows.append(
                (cid, uuid, tenant.id, campaign_id, c.name, c.description, c.external_id,
                 c.pass_through, c.attributes, c.timezone, v.primary, pending, reason, due, 0, 0,
                 owner, until, now, now)
            )  # fmt: skip
            for k, number in enumerate(v.numbers):
                phone = c.phones[k]
                relation = phone.relation or ("self" if k == 0 else "")
                phones.append(
                    (cid, campaign_id, k, number, relation, phone.phone_group, "active", 0)
                )
        bulk.insert_rows(conn, contacts, CONTACT_COLUMNS, rows)
        bulk.insert_rows(conn, contact_phones, PHONE_COLUMNS, phones)
        return {v.index: cid for cid, v in zip(ids, accepted, strict=True)}

    def insert_ready(
        self,
        conn: Connection,
        tenant: Tenant,
        campaign_id: int,
        ready: ReadyRows,
        keep: Sequence[int] | None,
        now: datetime,
        staged: str | None = None,
    ) -> int:
        """Insert a file's ready rows (those at ``keep``, or all), encoded by
        bulk.encode_ready, as insert_rows would insert the same contacts: the values every
        row shares bound once, the rows' own handed to the driver as they are. Returns how
        many contacts were inserted."""
        index: Sequence[int] = range(len(ready)) if keep is None else keep
        if not index:
            return 0
        ids = reserve_ids(conn, contacts, len(index))
        uuids = new_uuids(len(index), now)
        reason, due, owner, until = _new_state(now) if staged is None else _staged_state(staged)
        shared = {
            "tenant_id": tenant.id, "campaign_id": campaign_id, "timezone": None,
            "state": ContactState.PENDING.value, "reason": reason, "next_eligible_at": due,
            "attempt_count": 0, "phone_index": 0, "lease_owner": owner,
            "lease_expires_at": until, "created_at": now, "updated_at": now,
        }  # fmt: skip
        encoded, phones = ready.contacts, ready.phones
        pairs = list(zip(ids, index, strict=True))
        if bulk.text_rows(conn):
            rows: list[Any] = [
                f"{cid}\t{u}\t{encoded[k]}" for (cid, k), u in zip(pairs, uuids, strict=True)
            ]
            phone_rows: list[Any] = [
                f"{cid}\t{p}\t{number}\t{relation}"
                for cid, k in pairs
                for p, number, relation, _ in phones[k]
            ]
        else:
            rows = [(cid, u, *encoded[k]) for (cid, k), u in zip(pairs, uuids, strict=True)]
            phone_rows = [(cid, p, n, r) for cid, k in pairs for p, n, r, _ in phones[k]]
        bulk.insert_plain(conn, contacts, READY_CONTACT_COLUMNS, rows, shared)
        phone_shared = {
            "campaign_id": campaign_id, "phone_group": DEFAULT_GROUP, "state": "active",
            "attempt_count": 0,
        }  # fmt: skip
        bulk.insert_plain(conn, contact_phones, READY_PHONE_COLUMNS, phone_rows, phone_shared)
        return len(index)

    def publish_staged(self, tenant: Tenant, campaign_id: int, tag: str) -> int:
        """Make a finished import's staged contacts due now, in one transaction; the
        campaign's contact count after."""
        now = self.clock.now()
        with self.store.write() as conn:
            campaign = self.campaign_for_append(conn, tenant, campaign_id)
            published = conn.execute(
                update(contacts)
                .where(*_staged_by(campaign_id, tag))
                .values(
                    next_eligible_at=now,
                    reason="not_dialed",
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            ).rowcount
            total = self.count(conn, campaign_id)
            # appends between the import's batches are counted now: the cap holds exactly
            check_cap(tenant, total - published, published, field="file")
            if published:
                self.contacts_added(conn, campaign, now)
            return total

    def contacts_added(self, conn: Connection, campaign: dict[str, Any], now: datetime) -> None:
        """What new contacts change: a completed campaign has work again; a preview
        campaign's agents get their share of them."""
        self.reopen_if_completed(conn, campaign, now)
        assign_contacts(conn, campaign, now)

    def discard_staged(self, campaign_id: int, tag: str) -> int:
        """Delete what an import that did not finish had staged (phones go with them)."""
        with self.store.write() as conn:
            return int(conn.execute(delete(contacts).where(*_staged_by(campaign_id, tag))).rowcount)

    def reopen_if_completed(
        self, conn: Connection, campaign: dict[str, Any], now: datetime
    ) -> None:
        """New contacts give a completed campaign work again."""
        if campaign["state"] != CampaignState.COMPLETED.value:
            return
        state = started_state(period_has_begun(campaign, now))
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign["id"])
            .values(state=state.value, state_reason="contacts_added", ended_at=None, updated_at=now)
        )

    # --- read and edit ---------------------------------------------------------------------

    def list(
        self, tenant: Tenant, campaign_id: int, page: PageRequest, filters: Mapping[str, str]
    ) -> Page:
        where = [contacts.c.campaign_id == campaign_id, *contact_filters(tenant, filters)]
        with self.store.read() as conn:
            found(self.campaigns.get(conn, tenant.id, campaign_id), "campaign", campaign_id)
            rows, total = self.rows.page(conn, tenant.id, where, page.offset, page.page_size)
            return Page(with_phones(conn, rows), total, page.page, page.page_size)

    def search(self, tenant: Tenant, page: PageRequest, filters: Mapping[str, Any]) -> Page:
        """The tenant's contacts across its campaigns: ``campaign_id``, ``created_after`` and
        ``created_before`` (datetimes) besides the list filters."""
        where = contact_filters(tenant, {k: v for k, v in filters.items() if k in CONTACT_FILTERS})
        if "campaign_id" in filters:
            where.append(contacts.c.campaign_id == filters["campaign_id"])
        if "created_after" in filters:
            where.append(contacts.c.created_at >= filters["created_after"])
        if "created_before" in filters:
            where.append(contacts.c.created_at <= filters["created_before"])
        with self.store.read() as conn:
            rows, total = self.rows.page(conn, tenant.id, where, page.offset, page.page_size)
            return Page(with_phones(conn, rows), total, page.page, page.page_size)

    def by_uuids(self, tenant: Tenant, uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The tenant's contacts of these uuids (with their phones), by uuid; unknown ones are
        left out."""
        query = select(contacts).where(
            contacts.c.tenant_id == tenant.id, contacts.c.uuid.in_(uuids)
        )
        with self.store.read() as conn:
            rows = with_phones(conn, [dict(r._mapping) for r in conn.execute(query)])
        return {r["uuid"]: r for r in rows}

    def by_ids(self, tenant: Tenant, ids: Sequence[int]) -> Sequence[dict[str, Any]]:
        """The tenant's contacts of these ids, in that order (with their phones)."""
        query = select(contacts).where(contacts.c.tenant_id == tenant.id, contacts.c.id.in_(ids))
        with self.store.read() as conn:
            rows = {
                r["id"]: r
                for r in with_phones(conn, [dict(r._mapping) for r in conn.execute(query)])
            }
        return [rows[i] for i in ids if i in rows]

    def move(
        self, tenant: Tenant, contact_ids: Sequence[int], action: ContactAction
    ) -> dict[int, str]:
        """Suspend, resume or cancel these contacts, all or none: one that cannot make the move
        (on a call, or finished) is an IllegalTransition naming it, and nothing changes. Those
        already there are left as they are. Returns each moved contact's new state."""
        now = self.clock.now()
        with self.store.write() as conn:
            query = select(contacts.c.id, contacts.c.state, contacts.c.campaign_id).where(
                contacts.c.tenant_id == tenant.id, contacts.c.id.in_(contact_ids)
            )
            rows = conn.execute(query.with_for_update()).all()
            targets: dict[int, ContactState] = {}
            for row in rows:
                try:
                    target = contact_target(ContactState(row.state), action)
                except IllegalTransition as exc:
                    exc.extra["contact_id"] = row.id
                    raise
                if target is not None:
                    targets[row.id] = target
            for target in set(targets.values()):
                ids = [i for i, t in targets.items() if t is target]
                values: dict[str, Any] = {"state": target.value, "reason": REASON[action]}
                if target is ContactState.PENDING:
                    values["next_eligible_at"] = func.coalesce(contacts.c.next_eligible_at, now)
                conn.execute(
                    update(contacts).where(contacts.c.id.in_(ids)).values(**values, updated_at=now)
                )
            for campaign_id in {r.campaign_id for r in rows if r.id in targets}:
                self._after_move(conn, campaign_id, action, now)
        return {i: t.value for i, t in targets.items()}

    def get(self, tenant: Tenant, campaign_id: int, contact_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return self._get(conn, tenant, campaign_id, contact_id)

    def update(
        self, tenant: Tenant, campaign_id: int, contact_id: int, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Edit a contact's own fields; phones are fixed once added (the ledger refers to them)."""
        with self.store.write() as conn:
            current = self._get(conn, tenant, campaign_id, contact_id)
            if unknown := sorted(set(patch) - set(EDITABLE_FIELDS)):
                raise failed(
                    [
                        FieldError(
                            k,
                            "cannot be changed here"
                            if k in ContactIn.model_fields
                            else "unknown field",
                            "extra",
                        )
                        for k in unknown
                    ]
                )
            stored = {k: current[k] for k in EDITABLE_FIELDS}
            phones = [
                {"number": p["number"], "relation": p["relation"], "phone_group": p["phone_group"]}
                for p in current["phones"]
            ]
            data = validate(ContactIn, {**stored, **patch, "phones": phones})
            values = {k: getattr(data, k) for k in EDITABLE_FIELDS}
            self.rows.update(
                conn, tenant.id, contact_id, {**values, "updated_at": self.clock.now()}
            )
            return self._get(conn, tenant, campaign_id, contact_id)

    def delete(self, tenant: Tenant, campaign_id: int, contact_id: int) -> None:
        """Remove a contact never dialed; one with attempts stays for the ledger."""
        with self.store.write() as conn:
            self._get(conn, tenant, campaign_id, contact_id)
            has_attempts = conn.scalar(
                select(attempts.c.id).where(attempts.c.contact_id == contact_id).limit(1)
            )
            if has_attempts is not None:
                raise Conflict("this contact has been dialed; its attempts stay in the ledger")
            self._check_not_previewed(conn, contact_id)
            conn.execute(delete(contacts).where(contacts.c.id == contact_id))

    def _after_move(
        self, conn: Connection, campaign_id: int, action: ContactAction, now: datetime
    ) -> None:
        """A contact of an ended campaign stays as it is; one resumed in a completed campaign
        gives it work again."""
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
        campaign = dict(row._mapping)
        state = CampaignState(campaign["state"])
        if state in CLOSED_TO_APPEND:
            raise Conflict(
                f"campaign {campaign_id} is {state.value}; its contacts cannot be moved",
                state=state.value,
            )
        if action is ContactAction.RESUME:
            self.reopen_if_completed(conn, campaign, now)

    def _check_not_previewed(self, conn: Connection, contact_id: int) -> None:
        """An agent reading the contact for preview keeps it until they dial or skip it."""
        owner, until = conn.execute(
            select(contacts.c.lease_owner, contacts.c.lease_expires_at).where(
                contacts.c.id == contact_id
            )
        ).one()
        if owner and owner.startswith("agent:") and until > self.clock.now():
            raise Conflict(f"contact {contact_id} is being previewed by {owner}; try again later")

    def _get(
        self, conn: Connection, tenant: Tenant, campaign_id: int, contact_id: int
    ) -> dict[str, Any]:
        row = self.rows.get(conn, tenant.id, contact_id)
        if row is None or row["campaign_id"] != campaign_id:
            raise NotFound(f"contact {contact_id} not found")
        return with_phones(conn, [row])[0]


CONTACT_FILTERS = ("state", "q", "external_id", "number")


def contact_filters(tenant: Tenant, filters: Mapping[str, str]) -> list[Any]:
    out: list[Any] = []
    for name, value in filters.items():
        if name == "state":
            out.append(contacts.c.state == parse_choice("state", value, ContactState))
        elif name == "q":
            out.append(contacts.c.name.contains(value, autoescape=True))
        elif name == "external_id":
            out.append(contacts.c.external_id == value)
        elif name == "number":
            number = normalise(value, tenant.default_region, "number")
            has = select(contact_phones.c.contact_id).where(contact_phones.c.number == number)
            out.append(contacts.c.id.in_(has))
    return out


STAGED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
"""A staged contact's next eligible time and lease: until its import publishes it."""


def _staged_by(campaign_id: int, tag: str) -> list[Any]:
    # the (campaign_id, state, next_eligible_at) index finds them
    return [
        contacts.c.campaign_id == campaign_id,
        contacts.c.state == ContactState.PENDING.value,
        contacts.c.next_eligible_at == STAGED_UNTIL,
        contacts.c.lease_owner == tag,
    ]


def check_cap(tenant: Tenant, existing: int, adding: int, field: str = "contacts") -> None:
    """Refuse ``adding`` contacts to a campaign holding ``existing`` beyond the tenant's cap."""
    cap = tenant.max_contacts_per_campaign
    if existing + adding > cap:
        raise LimitExceeded(
            f"the campaign holds {existing} contacts and may hold {cap}; "
            f"adding {adding} would exceed it",
            [FieldError(field, f"campaign cap of {cap} contacts exceeded", "limit")],
            cap=cap,
            existing=existing,
        )


def _numbers(contact: Contact, tenant: Tenant, groups: set[str], i: int) -> list[str]:
    numbers = []
    errors = []
    phones: Sequence[PhoneIn | QuickPhone] = contact.phones
    region = tenant.default_region
    for k, phone in enumerate(phones):
        number = fast_e164(phone.number.strip(), region)
        if number is None:
            try:
                number = normalise(phone.number, region, f"contacts[{i}].phones[{k}].number")
            except ValidationFailed as exc:
                errors.extend(exc.details)
        if number is not None:
            numbers.append(number)
        if phone.phone_group not in groups:
            errors.append(
                FieldError(
                    f"contacts[{i}].phones[{k}].phone_group",
                    f"no phone group {phone.phone_group!r} in the campaign",
                    "not_found",
                )
            )
    if len(set(numbers)) != len(numbers):
        errors.append(
            FieldError(f"contacts[{i}].phones", "a contact's numbers must differ", "duplicate")
        )
    if errors:
        raise failed(errors)
    return numbers


CONTACT_COLUMNS = (  # the order of insert_rows' tuples
    "id",
    "uuid",
    "tenant_id",
    "campaign_id",
    "name",
    "description",
    "external_id",
    "pass_through",
    "attributes",
    "timezone",
    "primary_number",
    "state",
    "reason",
    "next_eligible_at",
    "attempt_count",
    "phone_index",
    "lease_owner",
    "lease_expires_at",
    "created_at",
    "updated_at",
)
READY_CONTACT_COLUMNS = (  # insert_ready's rows: the ids, then bulk.encode_ready's values
    "id",
    "uuid",
    "name",
    "description",
    "external_id",
    "pass_through",
    "attributes",
    "primary_number",
)
READY_PHONE_COLUMNS = ("contact_id", "position", "number", "relation")
PHONE_COLUMNS = (
    "contact_id",
    "campaign_id",
    "position",
    "number",
    "relation",
    "phone_group",
    "state",
    "attempt_count",
)


def _new_state(now: datetime) -> tuple[str, datetime, str | None, datetime | None]:
    """(reason, next_eligible_at, lease_owner, lease_expires_at) of a contact due now."""
    return ("not_dialed", now, None, None)


def _staged_state(tag: str) -> tuple[str, datetime, str | None, datetime | None]:
    """... of a contact staged by the import ``tag``: due once the import publishes it."""
    return ("importing", STAGED_UNTIL, tag, STAGED_UNTIL)


def _append_report(verdicts: list[RowVerdict], ids: dict[int, int], total: int) -> dict[str, Any]:
    results = []
    for v in verdicts:
        if v.ok:
            results.append({"index": v.index, "status": "accepted", "id": ids[v.index]})
        else:
            errors = [e.as_dict() for e in v.errors]
            results.append({"index": v.index, "status": "rejected", "errors": errors})
    accepted = len(ids)
    return {
        "accepted": accepted,
        "rejected": len(verdicts) - accepted,
        "total_contacts": total,
        "results": results,
    }


def with_phones(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    query = (
        select(contact_phones)
        .where(contact_phones.c.contact_id.in_(ids))
        .order_by(contact_phones.c.contact_id, contact_phones.c.position)
    )
    phones: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for p in conn.execute(query):
        phones[p.contact_id].append(dict(p._mapping))
    return [{**r, "phones": phones[r["id"]]} for r in rows]


def blocked_numbers(conn: Connection, tenant_id: int, numbers: set[str], now: datetime) -> set[str]:
    """Numbers on the tenant's or the operator's do-not-call list, not expired."""
    return bulk.present(
        conn,
        dnc_entries.c.number,
        sorted(numbers),
        or_(dnc_entries.c.tenant_id == tenant_id, dnc_entries.c.tenant_id.is_(None)),
        or_(dnc_entries.c.expires_at.is_(None), dnc_entries.c.expires_at > now),
    )
