"""Signed upload slots: a policy outdial issued takes one file under its key until it expires;
anything else is refused and nothing is kept."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from outdial.domain.errors import Forbidden, ValidationFailed
from outdial.io.files import FileStore
from outdial.services.downloads import LinkSigner
from outdial.services.uploads import UploadService
from tests.support import ManualClock


@pytest.fixture
def slots(tmp_path: Path) -> tuple[UploadService, ManualClock]:
    clock = ManualClock()
    return UploadService(FileStore(tmp_path), LinkSigner(b"k" * 32, clock), clock), clock


def test_a_file_is_kept_under_its_key(slots: tuple[UploadService, ManualClock]) -> None:
    service, _ = slots
    offer = service.offer("tenant/a_名单.csv")
    path = service.accept(offer.policy, offer.signature, offer.key, io.BytesIO(b"phone\n1\n"))
    assert path.read_bytes() == b"phone\n1\n"
    assert service.path_of("tenant/a_名单.csv") == path
    assert service.path_of("tenant/other.csv") is None


def test_an_expired_policy_is_refused(slots: tuple[UploadService, ManualClock]) -> None:
    service, clock = slots
    offer = service.offer("t/a.csv", seconds=60)
    clock.advance(61)
    with pytest.raises(Forbidden, match="expired"):
        service.accept(offer.policy, offer.signature, offer.key, io.BytesIO(b"x"))
    assert service.path_of("t/a.csv") is None


def test_another_key_or_signature_is_refused(slots: tuple[UploadService, ManualClock]) -> None:
    service, _ = slots
    offer = service.offer("t/a.csv")
    with pytest.raises(Forbidden, match="Condition"):
        service.accept(offer.policy, offer.signature, "t/b.csv", io.BytesIO(b"x"))
    with pytest.raises(Forbidden, match="signature"):
        service.accept(offer.policy, "AAAA", offer.key, io.BytesIO(b"x"))
    other = service.offer("t/c.csv")
    with pytest.raises(Forbidden):
        service.accept(other.policy, offer.signature, "t/c.csv", io.BytesIO(b"x"))


def test_an_empty_file_is_not_kept(slots: tuple[UploadService, ManualClock]) -> None:
    service, _ = slots
    offer = service.offer("t/a.csv")
    with pytest.raises(ValidationFailed):
        service.accept(offer.policy, offer.signature, offer.key, io.BytesIO(b""))
    assert service.path_of("t/a.csv") is None


def test_uploads_older_than_a_week_are_swept(slots: tuple[UploadService, ManualClock]) -> None:
    service, clock = slots
    offer = service.offer("t/old.csv")
    path = service.accept(offer.policy, offer.signature, offer.key, io.BytesIO(b"x"))
    week_ago = clock.now().timestamp() - 7 * 86400 - 1
    os.utime(path, (week_ago, week_ago))
    fresh = service.offer("t/new.csv")
    service.accept(fresh.policy, fresh.signature, fresh.key, io.BytesIO(b"y"))
    assert service.sweep() == 1
    assert service.path_of("t/old.csv") is None and service.path_of("t/new.csv") is not None
