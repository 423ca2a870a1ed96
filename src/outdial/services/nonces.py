"""Signature nonces: each signed request's nonce is accepted once while its date is in the
window; a replay inside the window is refused. Rows are kept until the window has passed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from outdial.clock import Clock
from outdial.store.schema import request_nonces
from outdial.store.store import Store

PURGE_EVERY = 200  # uses between two deletions of expired nonces


class NonceService:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self._uses = 0

    def use(self, scope: str, nonce: str, until: datetime) -> bool:
        """Record ``nonce`` for ``scope`` (a facade and a key id) until ``until``; False if
        it was used already and has not expired (the unique key decides, on both stores)."""
        self._uses += 1
        if self._uses % PURGE_EVERY == 1:
            self.purge()
        row = {"scope": scope[:128], "nonce": nonce[:128], "expires_at": until}
        try:
            with self.store.write() as conn:
                conn.execute(insert(request_nonces).values(**row))
        except IntegrityError:
            return False
        return True

    def purge(self) -> int:
        """Forget nonces whose window has passed."""
        with self.store.write() as conn:
            query = delete(request_nonces).where(request_nonces.c.expires_at < self.clock.now())
            return int(conn.execute(query).rowcount or 0)
