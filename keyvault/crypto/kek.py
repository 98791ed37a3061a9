"""Key-encryption-key sources: a local key file (embedded default, created on first run
with mode 0600) or a Google Secret Manager secret (production), whose versions allow
rotating the KEK: new wraps use the latest version, old wraps name theirs."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import pathlib
import stat
from typing import Protocol

from keyvault.crypto.secret_manager import SecretReader

__all__ = ["FileKekSource", "KekError", "KekSource", "Keyring", "SecretManagerKekSource"]

_log = logging.getLogger(__name__)
_KEK_BYTES = 32


class KekError(Exception):
    """The KEK cannot be loaded; the message says why (never the key)."""


class KekSource(Protocol):
    async def latest(self) -> tuple[str, bytes]:
        """The current KEK and its id."""
        ...

    async def get(self, kek_id: str) -> bytes:
        """A KEK by id (for data wrapped under an older version)."""
        ...


def _decode_kek(raw: bytes, where: str) -> bytes:
    if len(raw) == _KEK_BYTES:
        return raw
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        decoded = b""
    if len(decoded) != _KEK_BYTES:
        raise KekError(f"{where} must hold 32 bytes, raw or base64-encoded")
    return decoded


class FileKekSource:
    """A 256-bit key in a file (base64), created on first use with mode 0600."""

    def __init__(self, path: pathlib.Path) -> None:
        self._path = path

    def _kek_id(self, kek: bytes) -> str:
        return "file:" + hashlib.sha256(b"agentopia-kek-id:" + kek).hexdigest()[:16]

    def _create(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process created it first
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64encode(os.urandom(_KEK_BYTES)) + b"\n")
        _log.info("created a new key-encryption key file at %s", self._path)

    def _load(self) -> bytes:
        if not self._path.exists():
            self._create()
        mode = stat.S_IMODE(self._path.stat().st_mode)
        if mode & 0o077:
            raise KekError(
                f"{self._path} is readable by others (mode {mode:o}); run chmod 600 on it"
            )
        return _decode_kek(self._path.read_bytes(), str(self._path))

    async def latest(self) -> tuple[str, bytes]:
        kek = self._load()
        return self._kek_id(kek), kek

    async def get(self, kek_id: str) -> bytes:
        current_id, kek = await self.latest()
        if kek_id != current_id:
            raise KekError(f"KEK {kek_id} is not the key in {self._path}; restore that key file")
        return kek


class SecretManagerKekSource:
    """The KEK is the payload of a Secret Manager secret; the id is the full version name."""

    def __init__(self, reader: SecretReader, secret: str) -> None:
        self._reader = reader
        self._secret = secret.rstrip("/")

    async def latest(self) -> tuple[str, bytes]:
        name, payload = await self._reader.access(f"{self._secret}/versions/latest")
        return name, _decode_kek(payload, name)

    async def get(self, kek_id: str) -> bytes:
        name, payload = await self._reader.access(kek_id)
        return _decode_kek(payload, name)


class Keyring:
    """The current KEK plus every older one met so far (fetched once, kept in memory)."""

    def __init__(self, source: KekSource) -> None:
        self._source = source
        self._keys: dict[str, bytes] = {}
        self._current_id = ""

    async def load(self) -> None:
        kek_id, kek = await self._source.latest()
        self._keys[kek_id] = kek
        self._current_id = kek_id

    @property
    def current_id(self) -> str:
        if not self._current_id:
            raise KekError("the KEK is not loaded yet")
        return self._current_id

    @property
    def current(self) -> tuple[str, bytes]:
        return self.current_id, self._keys[self.current_id]

    async def get(self, kek_id: str) -> bytes:
        kek = self._keys.get(kek_id)
        if kek is None:
            kek = await self._source.get(kek_id)
            self._keys[kek_id] = kek
        return kek
