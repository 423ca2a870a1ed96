"""Settings, read once at start-up from the command line and the environment, then passed in."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from outdial.store.db import sqlite_url

ADMIN_KEY_FILE = "admin.key"
SECRET_KEY_FILE = "secret.key"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    admin_key: str
    secret_key: bytes
    admin_key_generated: bool = False
    default_region: str = "CN"
    default_timezone: str = "Asia/Shanghai"
    dezhu_sign_window_seconds: int = 300
    dezhu_sign_compat: bool = False
    webhook_lease_seconds: int = 30  # a delivery try's lease; must outlast the 10 s request
    webhook_disable_after_hours: int = 72  # an endpoint failing this long is disabled; 0: never
    webhook_disable_after_dead: int = 0  # …or after this many dead letters in a row; 0: never


def load_settings(data_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Create the data directory if needed and read or generate the admin and secret keys."""
    env = os.environ if env is None else env
    data_dir.mkdir(parents=True, exist_ok=True)
    admin_key, generated = _admin_key(data_dir, env)
    return Settings(
        data_dir=data_dir,
        database_url=env.get("DATABASE_URL") or sqlite_url(data_dir),
        admin_key=admin_key,
        secret_key=_secret_key(data_dir, env),
        admin_key_generated=generated,
        default_region=env.get("OUTDIAL_DEFAULT_REGION", "CN").upper(),
        default_timezone=env.get("OUTDIAL_DEFAULT_TIMEZONE", "Asia/Shanghai"),
        dezhu_sign_window_seconds=_seconds(env, "OUTDIAL_DEZHU_SIGN_WINDOW_SECONDS", 300),
        dezhu_sign_compat=_flag(env, "OUTDIAL_DEZHU_SIGN_COMPAT"),
        webhook_lease_seconds=_webhook_lease(env),
        webhook_disable_after_hours=_count(env, "OUTDIAL_WEBHOOK_DISABLE_AFTER_HOURS", 72),
        webhook_disable_after_dead=_count(env, "OUTDIAL_WEBHOOK_DISABLE_AFTER_DEAD", 0),
    )


WEBHOOK_TIMEOUT_SECONDS = 10  # a delivery request's limit (DeliverySettings.timeout_seconds)


def _webhook_lease(env: Mapping[str, str]) -> int:
    name = "OUTDIAL_WEBHOOK_LEASE_SECONDS"
    lease = _seconds(env, name, 30)
    if lease <= WEBHOOK_TIMEOUT_SECONDS:
        raise ValueError(
            f"{name} must be more than the {WEBHOOK_TIMEOUT_SECONDS} s a delivery request may "
            f"take (else a slow try's delivery is taken up again while it runs), not {lease}"
        )
    return lease


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number ≥ 0 (0: never), not {raw!r}")
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1/true/yes/on or 0/false/no/off, not {raw!r}")


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of seconds ≥ 1, not {raw!r}")
    return int(raw)


def _admin_key(data_dir: Path, env: Mapping[str, str]) -> tuple[str, bool]:
    if env.get("OUTDIAL_ADMIN_KEY"):
        return env["OUTDIAL_ADMIN_KEY"], False
    path = data_dir / ADMIN_KEY_FILE
    if path.exists():
        return path.read_text().strip(), False
    key = "od_admin_" + secrets.token_urlsafe(32)
    _write_private(path, key)
    return key, True


def _secret_key(data_dir: Path, env: Mapping[str, str]) -> bytes:
    """The key that encrypts stored secrets (Alibaba AccessKey secrets, SIP line passwords);
    Fernet format."""
    if env.get("OUTDIAL_SECRET_KEY"):
        return env["OUTDIAL_SECRET_KEY"].encode()
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        _write_private(path, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip().encode()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
