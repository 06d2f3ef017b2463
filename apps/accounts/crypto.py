"""Field-level encryption for personal data: AES-256-GCM with rotating keys, HMAC for lookups.

Ciphertexts look like `v1:<key id>:<base64 nonce+ciphertext>`. The key id travels with each
value, so old values stay readable after a new key becomes active, and
`manage.py rotate_encryption_key` re-encrypts them in batches. The column's name is bound
in as associated data: a ciphertext copied into another column does not decrypt.

Keys come from the environment:
  FIELD_ENCRYPTION_KEYS    "kid1:<base64 32 bytes>,kid2:<base64 32 bytes>"
  FIELD_ENCRYPTION_KEY_ID  the key id used for new values
  FIELD_HASH_KEY           base64 key for the keyed hashes (HMAC-SHA256) used for equality
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

PREFIX = "v1"


class Keyring:
    def __init__(self, keys: dict[str, bytes], active: str, hash_key: bytes):
        if active not in keys:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY_ID {active!r} is not in the keyring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ImproperlyConfigured(f"encryption key {kid!r} must be 32 bytes (AES-256)")
            if ":" in kid or "," in kid:
                raise ImproperlyConfigured(f"encryption key id {kid!r} may not contain : or ,")
        self.keys = keys
        self.active = active
        self.hash_key = hash_key

    @classmethod
    def parse(cls, keys: str, active: str, hash_key: str) -> Keyring:
        parsed = {}
        for item in filter(None, (part.strip() for part in keys.split(","))):
            kid, _, value = item.partition(":")
            parsed[kid] = base64.b64decode(value)
        return cls(parsed, active, base64.b64decode(hash_key))


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return Keyring.parse(
        settings.FIELD_ENCRYPTION_KEYS, settings.FIELD_ENCRYPTION_KEY_ID, settings.FIELD_HASH_KEY
    )


def encrypt(plaintext: str, *, context: str) -> str:
    ring = keyring()
    nonce = os.urandom(12)
    sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{ring.active}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(ciphertext: str, *, context: str) -> str:
    prefix, kid, payload = ciphertext.split(":", 2)
    if prefix != PREFIX:
        raise ValueError(f"unknown ciphertext format {prefix!r}")
    raw = base64.b64decode(payload)
    key = keyring().keys.get(kid)
    if key is None:
        raise ImproperlyConfigured(f"encryption key {kid!r} is needed to read existing data")
    return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()


def key_id_of(ciphertext: str) -> str:
    return ciphertext.split(":", 2)[1]


def blind_index(value: str, *, context: str) -> str:
    """A keyed hash for equality lookups: the same input always gives the same digest."""
    normalised = "".join(value.split()).upper()
    message = f"{context}\x00{normalised}".encode()
    return hmac.new(keyring().hash_key, message, hashlib.sha256).hexdigest()


class EncryptedAttribute:
    """A model attribute backed by `<name>_ciphertext` (and `<name>_hash` when searchable)."""

    def __init__(self, *, searchable: bool = False):
        self.searchable = searchable

    def __set_name__(self, owner, name):
        self.name = name
        self.context = f"{owner._meta.db_table}.{name}" if hasattr(owner, "_meta") else name

    def _context(self, instance) -> str:
        return f"{instance._meta.db_table}.{self.name}"

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        ciphertext = getattr(instance, f"{self.name}_ciphertext")
        return decrypt(ciphertext, context=self._context(instance)) if ciphertext else ""

    def __set__(self, instance, value: str) -> None:
        value = value or ""
        context = self._context(instance)
        setattr(
            instance, f"{self.name}_ciphertext", encrypt(value, context=context) if value else ""
        )
        if self.searchable:
            setattr(
                instance, f"{self.name}_hash", blind_index(value, context=context) if value else ""
            )


def _forget_keys(*, setting, **kwargs) -> None:
    if setting.startswith("FIELD_"):
        keyring.cache_clear()


setting_changed.connect(_forget_keys, dispatch_uid="accounts.crypto.forget_keys")
