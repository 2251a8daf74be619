"""The sealing of secret keys (AES-256-GCM) and the key file (s3service.backends.secretbox)."""
from __future__ import annotations

import os

import pytest

from s3service.backends.secretbox import (MARK, MAX_SECRET_BYTES, KeyFileError, SecretBox,
                                          SecretUnreadable, add_key_to_file, key_id, open_secret,
                                          read_key_file, sealed_key_id)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_seal_open_round_trip_and_binding():
    box = SecretBox([os.urandom(32)])
    sealed = box.seal("AKIA1", SECRET)
    assert sealed.startswith(MARK + box.current + "$") and SECRET not in sealed
    assert box.seal("AKIA1", SECRET) != sealed                     # a fresh nonce each time
    assert box.open("AKIA1", sealed) == SECRET
    assert box.open("AKIA1", SECRET) == SECRET                     # plaintext reads as it is
    with pytest.raises(SecretUnreadable):
        box.open("AKIA2", sealed)                                  # bound to its access key
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretUnreadable):
        box.open("AKIA1", tampered)
    with pytest.raises(SecretUnreadable, match=box.current):
        open_secret(None, "AKIA1", sealed)
    with pytest.raises(SecretUnreadable, match="does not hold"):
        SecretBox([os.urandom(32)]).open("AKIA1", sealed)


def test_the_longest_secret_fits_the_column():
    box = SecretBox([os.urandom(32)])
    longest = "é" * (MAX_SECRET_BYTES // 2)
    sealed = box.seal("AKIA" + "X" * 124, longest)
    assert len(sealed) <= 255 and box.open("AKIA" + "X" * 124, sealed) == longest
    with pytest.raises(ValueError):
        box.seal("AKIA", "x" * (MAX_SECRET_BYTES + 1))


def test_key_file_rotation_keeps_old_keys_after_the_new(tmp_path):
    path = str(tmp_path / "k")
    first = add_key_to_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    sealed = SecretBox.from_file(path).seal("AKIA1", SECRET)
    second = add_key_to_file(path)
    box = SecretBox.from_file(path)
    assert (box.current, box.key_ids) == (second, {first, second})
    assert box.open("AKIA1", sealed) == SECRET and sealed_key_id(sealed) == first
    assert key_id(read_key_file(path)[1]) == first


@pytest.mark.parametrize("content, mode, message", [
    ("", 0o600, "holds no key"),
    ("# only a comment\n", 0o600, "holds no key"),
    ("bm90IGEga2V5\n", 0o600, "line 1: not a key"),
    ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0o644, "readable or writable by other"),
])
def test_bad_key_files_are_refused(tmp_path, content, mode, message):
    path = tmp_path / "k"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=message):
        SecretBox.from_file(str(path))
    with pytest.raises(KeyFileError, match="cannot read"):
        read_key_file(str(tmp_path / "missing"))
