"""Credentials: native API keys and the facades' keys, created, rotated and revoked here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, select, update

from outdial.clock import Clock
from outdial.domain.errors import Conflict, Unauthenticated, ValidationFailed
from outdial.services.common import (
    Page,
    PageRequest,
    Tenant,
    found,
    integrity_guard,
    new_uuid,
    parse_choice,
)
from outdial.services.models import CredentialIn, CredentialKind, CredentialRotateIn
from outdial.services.secrets import (
    SecretBox,
    hash_secret,
    load_rsa_public_key,
    new_token,
    random_text,
    same_hash,
    token_key_id,
)
from outdial.store.repo import TenantTable
from outdial.store.schema import credentials, tenants
from outdial.store.store import Store

TOKEN_PREFIX = {"api_key": "od", "yunfu_token": "yf"}


class AliyunKey(NamedTuple):
    tenant: Tenant
    secret: str  # the AccessKeySecret
    credential: dict[str, Any]


class DezhuKey(NamedTuple):
    tenant: Tenant
    public_key: str  # SPKI PEM
    credential: dict[str, Any]


LAST_USED_RESOLUTION = timedelta(minutes=10)


class CredentialService:
    def __init__(self, store: Store, clock: Clock, box: SecretBox):
        self.store, self.clock, self.box = store, clock, box
        self.rows = TenantTable(credentials)

    # --- management through the native API -----------------------------------------------

    def create(self, tenant: Tenant, data: CredentialIn) -> dict[str, Any]:
        with integrity_guard("credential"), self.store.write() as conn:
            return self.create_in(conn, tenant.id, data)

    def create_in(self, conn: Connection, tenant_id: int, data: CredentialIn) -> dict[str, Any]:
        values, secret = self._material(data)
        if self._key_taken(conn, data.kind, values["key_id"]):
            raise Conflict(f"{data.kind} with this key id already exists")
        now = self.clock.now()
        row = self.rows.insert(
            conn,
            {
                "uuid": new_uuid(),
                "tenant_id": tenant_id,
                "kind": data.kind,
                "name": data.name,
                "status": "active",
                "created_at": now,
                "updated_at": now,
                **values,
            },
        )
        return present(row, secret)

    def list(self, tenant: Tenant, page: PageRequest, kind: str | None) -> Page:
        where = []
        if kind is not None:
            where.append(credentials.c.kind == parse_choice("kind", kind, CredentialKind))
        with self.store.read() as conn:
            rows, total = self.rows.page(conn, tenant.id, where, page.offset, page.page_size)
        return Page([present(r) for r in rows], total, page.page, page.page_size)

    def get(self, tenant: Tenant, cred_id: int) -> dict[str, Any]:
        with self.store.read() as conn:
            return present(found(self.rows.get(conn, tenant.id, cred_id), "credential", cred_id))

    def rotate(self, tenant: Tenant, cred_id: int, data: CredentialRotateIn) -> dict[str, Any]:
        """Issue new secret material under the same key id; the old secret stops working."""
        with self.store.write() as conn:
            row = found(self.rows.get(conn, tenant.id, cred_id, lock=True), "credential", cred_id)
            if row["status"] != "active":
                raise Conflict("a revoked credential cannot be rotated", state=row["status"])
            values, secret = self._rotated_material(row, data)
            now = self.clock.now()
            updated = self.rows.update(
                conn, tenant.id, cred_id, {**values, "rotated_at": now, "updated_at": now}
            )
            return present(found(updated, "credential", cred_id), secret)

    def revoke(self, tenant: Tenant, cred_id: int) -> dict[str, Any]:
        """End a credential; revoking it again is a 409 that keeps the first ``revoked_at``."""
        with self.store.write() as conn:
            current = found(
                self.rows.get(conn, tenant.id, cred_id, lock=True), "credential", cred_id
            )
            if current["status"] == "revoked":
                raise Conflict(f"credential {cred_id} is already revoked", state=current["status"])
            now = self.clock.now()
            row = self.rows.update(
                conn,
                tenant.id,
                cred_id,
                {"status": "revoked", "revoked_at": now, "updated_at": now},
            )
            return present(found(row, "credential", cred_id))

    # --- authentication --------------------------------------------------------------------

    def tenant_for_token(self, kind: str, token: str) -> Tenant:
        """The active tenant owning this bearer token (api_key or yunfu_token)."""
        with self.store.read() as conn:
            hit = self._active(conn, kind, token_key_id(token))
        if hit is None or not same_hash(token, hit["secret_hash"]):
            raise Unauthenticated("invalid or revoked credentials")
        self._touch(hit)
        return Tenant.from_row(hit["tenant"])

    def aliyun_secret(self, access_key_id: str) -> AliyunKey | None:
        """The active AccessKey ``access_key_id``; ``touch(key.credential)`` once it verified."""
        with self.store.read() as conn:
            hit = self._active(conn, "aliyun_access_key", access_key_id)
        if hit is None:
            return None
        return AliyunKey(
            Tenant.from_row(hit["tenant"]), self.box.open(hit["secret_encrypted"]), hit
        )

    def dezhu_public_key(self, app_id: str) -> DezhuKey | None:
        """The active 得助 key of ``app_id``; ``touch(key.credential)`` once it verified."""
        with self.store.read() as conn:
            hit = self._active(conn, "dezhu_public_key", app_id)
        if hit is None:
            return None
        return DezhuKey(Tenant.from_row(hit["tenant"]), hit["public_key"], hit)

    def touch(self, credential: dict[str, Any]) -> None:
        """Record that a credential authenticated a request (at most every few minutes)."""
        self._touch(credential)

    # --- internals -------------------------------------------------------------------------

    def _material(self, data: CredentialIn) -> tuple[dict[str, Any], str | None]:
        if data.kind in TOKEN_PREFIX:
            token = data.token or new_token(TOKEN_PREFIX[data.kind])
            return {"key_id": token_key_id(token), "secret_hash": hash_secret(token)}, token
        if data.kind == "aliyun_access_key":
            key_id = data.access_key_id or "LTAI" + random_text(20)
            secret = data.access_key_secret or random_text(30)
            return {"key_id": key_id, "secret_encrypted": self.box.seal(secret)}, secret
        app_id = data.app_id or random_text(32, "0123456789abcdef")
        assert data.public_key is not None
        return {"key_id": app_id, "public_key": load_rsa_public_key(data.public_key)}, None

    def _rotated_material(
        self, row: dict[str, Any], data: CredentialRotateIn
    ) -> tuple[dict[str, Any], str | None]:
        kind = row["kind"]
        if kind == "dezhu_public_key":
            if data.public_key is None:
                raise ValidationFailed.field("public_key", "give the new public key", "missing")
            return {"public_key": load_rsa_public_key(data.public_key)}, None
        if data.public_key is not None:
            raise ValidationFailed.field("public_key", f"not allowed for kind {kind}", "extra")
        if kind == "aliyun_access_key":
            secret = random_text(30)
            return {"secret_encrypted": self.box.seal(secret)}, secret
        # Bearer tokens are looked up by a hash prefix, so rotation changes the key id too.
        token = new_token(TOKEN_PREFIX[kind])
        return {"key_id": token_key_id(token), "secret_hash": hash_secret(token)}, token

    def _key_taken(self, conn: Connection, kind: str, key_id: str) -> bool:
        query = select(credentials.c.id).where(
            credentials.c.kind == kind, credentials.c.key_id == key_id
        )
        return conn.scalar(query) is not None

    def _active(self, conn: Connection, kind: str, key_id: str) -> dict[str, Any] | None:
        query = (
            select(credentials, tenants)
            .join(tenants, tenants.c.id == credentials.c.tenant_id)
            .where(
                credentials.c.kind == kind,
                credentials.c.key_id == key_id,
                credentials.c.status == "active",
                tenants.c.status == "active",
            )
        )
        row = conn.execute(query).one_or_none()
        if row is None:
            return None
        cred = {c.name: row._mapping[credentials.c[c.name]] for c in credentials.columns}
        cred["tenant"] = {c.name: row._mapping[tenants.c[c.name]] for c in tenants.columns}
        return cred

    def _touch(self, cred: dict[str, Any]) -> None:
        """Record use at most every few minutes, so authentication rarely writes."""
        now = self.clock.now()
        last: datetime | None = cred["last_used_at"]
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return
        with self.store.write() as conn:
            conn.execute(
                update(credentials)
                .where(and_(credentials.c.id == cred["id"]))
                .values(last_used_at=now)
            )


def present(row: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    hidden = {"secret_hash", "secret_encrypted"}
    out = {k: v for k, v in row.items() if k not in hidden}
    out["secret"] = secret
    return out
