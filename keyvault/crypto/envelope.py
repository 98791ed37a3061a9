"""Envelope encryption: each secret gets its own random AES-256-GCM data key (DEK); the
DEK is stored wrapped (AES-256-GCM) under the key-encryption key (KEK). The context
(e.g. the key's id) is bound as associated data, so a ciphertext moved to another
row does not decrypt."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyvault.crypto.kek import Keyring

__all__ = ["DecryptionError", "Envelope", "Sealed"]

_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext or wrapped key failed authentication (tampered, wrong KEK or context)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    kek_id: str
    wrapped_dek: bytes  # nonce || AES-GCM(kek, dek)
    nonce: bytes
    ciphertext: bytes


class Envelope:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @property
    def current_kek_id(self) -> str:
        return self._keyring.current_id

    def seal(self, plaintext: bytes, *, context: bytes) -> Sealed:
        dek = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = AESGCM(dek).encrypt(nonce, plaintext, context)
        kek_id, kek = self._keyring.current
        return Sealed(kek_id, _wrap(kek, dek, context), nonce, ciphertext)

    async def open(self, sealed: Sealed, *, context: bytes) -> bytes:
        kek = await self._keyring.get(sealed.kek_id)
        dek = _unwrap(kek, sealed.wrapped_dek, context)
        try:
            return AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, context)
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None

    async def rewrap(self, sealed: Sealed, *, context: bytes) -> Sealed:
        """The same ciphertext with its DEK wrapped under the current KEK."""
        old_kek = await self._keyring.get(sealed.kek_id)
        dek = _unwrap(old_kek, sealed.wrapped_dek, context)
        kek_id, kek = self._keyring.current
        return Sealed(kek_id, _wrap(kek, dek, context), sealed.nonce, sealed.ciphertext)


def _wrap(kek: bytes, dek: bytes, context: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, dek, b"dek:" + context)


def _unwrap(kek: bytes, wrapped: bytes, context: bytes) -> bytes:
    nonce, body = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, body, b"dek:" + context)
    except InvalidTag:
        raise DecryptionError("wrapped data key failed authentication (wrong KEK?)") from None
