"""Assertions shared by the raw-HTTP tests."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from . import rawhttp, seed

REQUEST_ID = re.compile(r"[0-9A-F]{16}")


def check_common_headers(resp: rawhttp.Response) -> None:
    rid = resp.header("x-amz-request-id")
    assert rid and REQUEST_ID.fullmatch(rid), rid
    assert resp.header("x-amz-id-2")
    assert resp.header("Server")
    date = parsedate_to_datetime(resp.header("Date"))
    assert abs((date - datetime.now(timezone.utc)).total_seconds()) < 60
    assert len(resp.header_all("x-amz-request-id")) == 1


def assert_error(resp: rawhttp.Response, status: int, code: str, **fields: str) -> dict:
    """Check an error answer: status, headers, ``Code``, ids and the given elements."""
    assert resp.status == status, (resp.status, resp.body[:500])
    assert resp.header("Content-Type") == "application/xml"
    check_common_headers(resp)
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert int(resp.header("Content-Length")) == len(resp.body)
    err = resp.error()
    assert err["Code"] == code, err
    assert err["Message"]
    assert err["RequestId"] == resp.header("x-amz-request-id")
    assert err["HostId"] == resp.header("x-amz-id-2")
    for name, value in fields.items():
        assert err.get(name) == value, (name, err)
    for secret in (seed.ROOT_SECRET, seed.USER_SECRET, seed.SESSION_SECRET, seed.B_SECRET,
                   seed.INACTIVE_SECRET):
        assert secret.encode() not in resp.body
    return err


def echo_of(resp: rawhttp.Response) -> dict:
    """What the echo gateway says it received (a 200 answered by the gateway, not the middleware)."""
    assert resp.status == 200, (resp.status, resp.body[:500])
    assert resp.header("Content-Type") == "application/json", resp.body[:300]
    header = resp.header("X-Echo")
    assert header, "not answered by the echo gateway"
    doc = json.loads(base64.urlsafe_b64decode(header))
    assert doc["gateway"] == "echo"
    if resp.body:
        assert json.loads(resp.body) == doc
    return doc
