"""Optional payload encryption, so officials' names never sit in clear text on a shared Temporal cluster.

Every payload the SDK sends (workflow input, update arguments and results, activity arguments and
results, memo, the static summary and details) is serialized whole and sealed with AES-256-GCM
before it leaves the process; only workers, clients and the codec server holding the keys can read it.
Search attributes are never encrypted: the server must index them (Concordat's hold only stages,
RAG ratings, service categories, counts, deadlines and public GSS body codes).

Keys come from ``CONCORDAT_ENCRYPTION_KEYS`` as ``id:base64key,id:base64key``. The first key
encrypts; every listed key decrypts, so a key is rotated by putting a new one in front and keeping
the old one until no history still needs it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class DecryptionError(Exception):
    """A payload could not be decrypted: its key is not configured, or it was altered."""


def parse_keys(text: str) -> dict[str, bytes]:
    """``id:base64key,...`` to an ordered id -> key map (the first encrypts).

    Messages name key ids and positions, never key material, since they end up in logs.
    """
    keys: dict[str, bytes] = {}
    for position, entry in enumerate((part.strip() for part in text.split(",")), start=1):
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not _KEY_ID_PATTERN.fullmatch(key_id):
            raise ValueError(
                f"entry {position} is not 'keyid:base64key' (key ids are 1-64 letters, digits, '.', '_' or '-')"
            )
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} is listed twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise ValueError(f"key {key_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} (base64 of 32 bytes)")
        keys[key_id] = key
    return keys


class EncryptionCodec(PayloadCodec):
    """Seals each payload with the first key, tagged with its id; opens payloads sealed with any key.

    The key id is bound to the ciphertext as associated data, so relabelling a payload with
    another key id makes it fail to decrypt rather than decrypt under the wrong key.
    """

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.key_id = next(iter(self._ciphers))

    @classmethod
    def from_setting(cls, text: str) -> EncryptionCodec:
        return cls(parse_keys(text))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encrypt(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decrypt(payloads)

    def encrypt(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Synchronous, for the codec server's request threads."""
        cipher, aad = self._ciphers[self.key_id], self.key_id.encode()
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: aad},
                    data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), aad),
                )
            )
        return sealed

    def decrypt(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Payloads not sealed by this codec pass through, so histories from before encryption still read."""
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise DecryptionError(
                    f"payload was encrypted with key {key_id!r}, which is not in CONCORDAT_ENCRYPTION_KEYS "
                    f"(configured: {', '.join(self._ciphers)})"
                )
            nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plaintext = cipher.decrypt(nonce, ciphertext, key_id.encode())
            except InvalidTag:
                raise DecryptionError(f"payload encrypted with key {key_id!r} failed authentication") from None
            opened.append(Payload.FromString(plaintext))
        return opened


def encrypting(converter: DataConverter, codec: EncryptionCodec) -> DataConverter:
    """``converter`` with payloads encrypted by ``codec``.

    Failure messages and stack traces are moved into an encoded payload as well: a refused
    sign-off's message names the signatory, and Temporal would otherwise store it in clear text.
    """
    return dataclasses.replace(
        converter, payload_codec=codec, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
    )
