"""Envelope encryption and the KEK sources (local file; Secret Manager through the real
client library against the fake Secret Manager gRPC server)."""

from __future__ import annotations

import base64
import dataclasses
import os
import pathlib

import pytest

from keyvault.crypto.envelope import DecryptionError, Envelope
from keyvault.crypto.kek import FileKekSource, KekError, Keyring, SecretManagerKekSource
from keyvault.crypto.secret_manager import SecretManagerReader, make_secret_manager_client
from tests.keyvault.fake_secret_manager import FakeSecretManager

SECRET = b"sk-live-provider-secret-0123456789"


async def _envelope(path: pathlib.Path) -> Envelope:
    keyring = Keyring(FileKekSource(path))
    await keyring.load()
    return Envelope(keyring)


async def test_seal_and_open_bind_the_context(tmp_path: pathlib.Path) -> None:
    envelope = await _envelope(tmp_path / "kek.key")
    sealed = envelope.seal(SECRET, context=b"pkey_1")
    assert SECRET not in sealed.ciphertext + sealed.wrapped_dek
    assert await envelope.open(sealed, context=b"pkey_1") == SECRET
    with pytest.raises(DecryptionError):
        await envelope.open(sealed, context=b"pkey_2")  # moved to another row
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionError):
        await envelope.open(dataclasses.replace(sealed, ciphertext=flipped), context=b"pkey_1")
    other = await _envelope(tmp_path / "other.key")
    with pytest.raises(KekError):
        await other.open(sealed, context=b"pkey_1")  # a different KEK file


async def test_the_key_file_is_created_0600_and_must_stay_private(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nested" / "kek.key"
    source = FileKekSource(path)
    kek_id, kek = await source.latest()
    assert len(kek) == 32 and kek_id.startswith("file:")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (await source.latest()) == (kek_id, kek)  # stable across loads
    path.chmod(0o644)
    with pytest.raises(KekError, match="chmod 600"):
        await source.latest()
    path.chmod(0o600)
    path.write_bytes(b"too short")
    with pytest.raises(KekError, match="32 bytes"):
        await source.latest()


async def test_secret_manager_kek_versions_rotate_and_old_data_still_opens(
    fake_sm: FakeSecretManager,
) -> None:
    client = make_secret_manager_client(fake_sm.endpoint)
    try:
        await client.create_secret(
            parent="projects/p", secret_id="kek", secret={"replication": {"automatic": {}}}
        )
        await client.add_secret_version(
            parent="projects/p/secrets/kek", payload={"data": base64.b64encode(os.urandom(32))}
        )
        reader = SecretManagerReader(client)
        keyring = Keyring(SecretManagerKekSource(reader, "projects/p/secrets/kek"))
        await keyring.load()
        assert keyring.current_id == "projects/p/secrets/kek/versions/1"
        sealed = Envelope(keyring).seal(SECRET, context=b"c")

        fake_sm.add_version("projects/p/secrets/kek", os.urandom(32))  # rotate the KEK
        rotated = Keyring(SecretManagerKekSource(reader, "projects/p/secrets/kek"))
        await rotated.load()
        assert rotated.current_id == "projects/p/secrets/kek/versions/2"
        envelope = Envelope(rotated)
        assert await envelope.open(sealed, context=b"c") == SECRET  # fetched v1 by name
        rewrapped = await envelope.rewrap(sealed, context=b"c")
        assert rewrapped.kek_id.endswith("/versions/2")
        assert rewrapped.ciphertext == sealed.ciphertext
        assert await envelope.open(rewrapped, context=b"c") == SECRET
    finally:
        await client.transport.close()
