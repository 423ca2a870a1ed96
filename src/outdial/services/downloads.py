"""Signed download links for job files (an export, like Alibaba's FileHttpUrl): whoever holds
the link may fetch the file until it expires, with no API key, and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from outdial.clock import Clock
from outdial.domain.errors import Forbidden

LINK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SignedLink:
    path: str  # under the API root: /downloads/{job uuid}/{file name}
    expires: int  # unix seconds
    signature: str

    @property
    def query(self) -> str:
        return f"expires={self.expires}&signature={self.signature}"


class LinkSigner:
    def __init__(self, secret_key: bytes, clock: Clock):
        self._key = hashlib.sha256(b"outdial download links\0" + secret_key).digest()
        self.clock = clock

    def sign(self, job_uuid: str, file_name: str, seconds: int = LINK_SECONDS) -> SignedLink:
        expires = int(self.clock.now().timestamp()) + seconds
        path = f"/downloads/{job_uuid}/{file_name}"
        return SignedLink(path, expires, self._mac(job_uuid, file_name, expires))

    def check(self, job_uuid: str, file_name: str, expires: int, signature: str) -> None:
        """Raise Forbidden unless the link is outdial's and has not expired."""
        expected = self._mac(job_uuid, file_name, expires)
        if not hmac.compare_digest(expected, signature):
            raise Forbidden("this download link is not valid")
        if expires < self.clock.now().timestamp():
            raise Forbidden("this download link has expired; ask for the job again")

    def seal(self, text: str, purpose: str = "upload policy") -> str:
        """outdial's signature of ``text`` (an upload policy it issued, a facade's token),
        base64; ``purpose`` keeps one kind from passing for another."""
        message = purpose.encode() + b"\0" + text.encode()
        return base64.b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).decode()

    def sealed(self, text: str, signature: str, purpose: str = "upload policy") -> bool:
        return hmac.compare_digest(self.seal(text, purpose), signature)

    def _mac(self, job_uuid: str, file_name: str, expires: int) -> str:
        message = f"{job_uuid}\n{file_name}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
