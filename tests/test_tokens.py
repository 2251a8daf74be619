"""Continuation tokens: round trip, and every way a token can be bad."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given, strategies as st

from s3service import tokens

KEY = b"k" * 32


def test_round_trip():
    token = tokens.encode(KEY, "acct", "pre", "eu-west-1", "pre-bucket-9")
    assert len(token) <= tokens.MAX_LENGTH
    assert tokens.decode(KEY, token, "acct", "pre", "eu-west-1") == "pre-bucket-9"


@pytest.mark.parametrize("account,prefix,region", [
    ("other", "pre", "eu-west-1"),     # another account
    ("acct", "p", "eu-west-1"),        # other prefix
    ("acct", "pre", None),             # region filter dropped
    ("acct", "pre", "us-east-1"),      # other region
])
def test_token_bound_to_its_listing(account, prefix, region):
    token = tokens.encode(KEY, "acct", "pre", "eu-west-1", "x")
    with pytest.raises(tokens.BadToken):
        tokens.decode(KEY, token, account, prefix, region)


def test_foreign_key_refused():
    token = tokens.encode(b"other key", "acct", "", None, "x")
    with pytest.raises(tokens.BadToken):
        tokens.decode(KEY, token, "acct", "", None)


def test_every_single_byte_change_is_detected():
    token = tokens.encode(KEY, "acct", "", None, "bucket-name")
    raw = bytearray(base64.urlsafe_b64decode(token))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        with pytest.raises(tokens.BadToken):
            tokens.decode(KEY, base64.urlsafe_b64encode(bytes(changed)).decode(), "acct", "", None)


@pytest.mark.parametrize("token", ["", "!!!", "a", "AAAA", "é", "x" * 2000, "AQ==",
                                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_malformed_tokens(token):
    with pytest.raises(tokens.BadToken):
        tokens.decode(KEY, token, "acct", "", None)


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(token):
    try:
        tokens.decode(KEY, token, "acct", "", None)
    except tokens.BadToken:
        pass
