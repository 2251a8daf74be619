"""Secret keys encrypted at rest, with a key kept apart from the database.

A store given a :class:`SecretBox` writes each secret access key sealed:
AES-256-GCM under the box's current key, with the access key as associated
data (a sealed secret copied into another key's row does not open there).
The column then holds text such as::

    $s3s-gcm1$8c1f02aa$<base64url of nonce, ciphertext and tag>

where ``8c1f02aa`` names the key (the start of its SHA-256).  A value
without the ``$s3s-gcm1$`` mark is a secret written in plaintext (by an
s3service older than this module, or one run without a key): it still
reads, and ``s3service secrets encrypt`` seals it.

The key file holds one key per line, base64 of 32 random bytes, ``#``
comments allowed; it must not be readable by other users.  The first key
seals; the others only open, so a key is rotated by putting a new one first
(``s3service secrets new-key PATH``), sealing every row again
(``s3service secrets encrypt``) and then removing the old line.

Needs the ``encryption`` extra (``cryptography``).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from .base import BackendUnavailable

MARK = "$s3s-gcm1$"
#: Bytes of a key (AES-256).
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: Characters the SQL column holds (``String(255)``).
COLUMN_CHARS = 255
ID_CHARS = 8
#: Longest secret key (UTF-8 bytes) a sealed value still fits the column with.
MAX_SECRET_BYTES = (COLUMN_CHARS - len(MARK) - ID_CHARS - 1) * 3 // 4 - NONCE_BYTES - TAG_BYTES
ENV_KEY_FILE = "S3SERVICE_SECRETS_KEY_FILE"


class SecretUnreadable(BackendUnavailable):
    """A stored secret key cannot be opened: no key given, a key missing, or a tampered value.

    A :class:`~.base.BackendUnavailable`: a request that needs the secret gets
    ``503``, never another tenant's key or a traceback.  The message names the
    access key and the key id, never a secret.
    """


class KeyFileError(ValueError):
    """The key file cannot be used (missing, readable by others, malformed)."""


def is_sealed(stored: str) -> bool:
    """Whether ``stored`` (a secret column's value) is sealed rather than plaintext."""
    return stored.startswith(MARK)


def sealed_key_id(stored: str) -> str | None:
    """The id of the key a sealed value needs, or None for plaintext."""
    if not is_sealed(stored):
        return None
    return stored[len(MARK):len(MARK) + ID_CHARS]


def key_id(key: bytes) -> str:
    """The short name of ``key`` stored with what it seals (not secret: a hash prefix)."""
    return hashlib.sha256(b"s3service-secretbox-id\x00" + key).hexdigest()[:ID_CHARS]


def new_key() -> str:
    """A fresh key, as a key file's line."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class SecretBox:
    """Seals and opens secret keys with AES-256-GCM; ``keys[0]`` seals, every key opens.

    Safe to share between threads (each call is independent).
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        try:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise KeyFileError("encrypted secret keys need the cryptography package: "
                               "pip install 's3service[encryption]'") from None

        if not keys:
            raise KeyFileError("no key given")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise KeyFileError(f"a key must be {KEY_BYTES} bytes, not {len(key)}")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self._invalid = InvalidTag
        self.current = key_id(keys[0])

    @classmethod
    def from_file(cls, path: str) -> "SecretBox":
        """The box of the keys in ``path`` (see the module's docstring)."""
        return cls(read_key_file(path))

    @property
    def key_ids(self) -> frozenset[str]:
        """The ids of every key this box opens with."""
        return frozenset(self._ciphers)

    def seal(self, access_key: str, secret_key: str) -> str:
        """``secret_key`` sealed under the current key, bound to ``access_key``."""
        secret = secret_key.encode("utf-8")
        if len(secret) > MAX_SECRET_BYTES:
            raise ValueError(f"a secret key of {len(secret)} bytes is too long to store "
                             f"encrypted (at most {MAX_SECRET_BYTES})")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, secret, access_key.encode("utf-8"))
        text = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{MARK}{self.current}${text}"

    def open(self, access_key: str, stored: str) -> str:
        """The secret key in ``stored``: opened when sealed, as it is when plaintext."""
        if not is_sealed(stored):
            return stored
        wanted = sealed_key_id(stored) or ""
        cipher = self._ciphers.get(wanted)
        if cipher is None:
            raise SecretUnreadable(f"the secret of access key {access_key!r} is sealed with key "
                                   f"id {wanted}, which the secrets key file does not hold")
        body = stored[len(MARK) + ID_CHARS + 1:]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            secret = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                    access_key.encode("utf-8"))
            return secret.decode("utf-8")
        except (self._invalid, ValueError, binascii.Error):
            raise SecretUnreadable(f"the stored secret of access key {access_key!r} does not "
                                   f"open with key id {wanted}: altered, or moved from another "
                                   f"row") from None

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` is sealed under the current key (nothing to re-seal)."""
        return sealed_key_id(stored) == self.current


def stored_secret(box: SecretBox | None, access_key: str, secret_key: str) -> str:
    """What a store writes for ``secret_key``: sealed with ``box``, else the plaintext.

    A plaintext secret that looks sealed is refused: it would not read back.
    """
    if box is not None:
        return box.seal(access_key, secret_key)
    if is_sealed(secret_key):
        raise ValueError(f"a secret key may not start with {MARK!r}")
    return secret_key


def open_secret(box: SecretBox | None, access_key: str, stored: str) -> str:
    """The secret key a store read: plaintext as it is, sealed opened with ``box``.

    Raises :class:`SecretUnreadable` for a sealed value and no box.
    """
    if not is_sealed(stored):
        return stored
    if box is None:
        raise SecretUnreadable(f"the secret of access key {access_key!r} is stored encrypted "
                               f"(key id {sealed_key_id(stored)}) and no secrets key was given "
                               f"(--secrets-key-file or ${ENV_KEY_FILE})")
    return box.open(access_key, stored)


def read_key_file(path: str) -> list[bytes]:
    """The keys in ``path``, first the one that seals; refused if other users may read it."""
    try:
        with open(path, encoding="ascii") as handle:
            if os.fstat(handle.fileno()).st_mode & 0o077:
                raise KeyFileError(f"{path} is readable or writable by other users: it holds "
                                   f"the key to every secret key (chmod 600 {path})")
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise KeyFileError(f"cannot read {path}: {reason}") from None
    keys = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = base64.b64decode(line, validate=True)
        except binascii.Error:
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyFileError(f"{path}, line {number}: not a key (base64 of "
                               f"{KEY_BYTES} bytes, as `s3service secrets new-key` writes)")
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{path} holds no key")
    return keys


def add_key_to_file(path: str) -> str:
    """Put a new key first in ``path`` (created 0600 if need be); returns its id.

    The keys already there stay, after it, to open what they sealed.
    """
    key = new_key()
    old = read_key_file(path) if os.path.exists(path) else []
    lines = [key] + [base64.b64encode(k).decode("ascii") for k in old]
    temporary = f"{path}.new"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, ("\n".join(lines) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return key_id(base64.b64decode(key))
