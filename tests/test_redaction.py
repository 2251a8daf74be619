"""The request line's own redaction of a query string: what redact_secrets gives, sooner."""
from __future__ import annotations

import pytest

from s3service.redaction import redact_query, redact_secrets

QUERIES = [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Fus-east-1%2Fs3%2Faws4_"
    "request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=FwoGZX%2Btok%3D%3D&X-Amz-Signature=" + "ab" * 32,
    "AWSAccessKeyId=AK&Expires=1&Signature=abc%2Bdef%3D",
    "x-amz-signature=abc&X-Amz-%53ignature=def&%53ignature=g&%73IGNATURE=h",
    "NotASignature=abc&Signatures=1&Signature=&token=x",
    "list-type=2&prefix=a%2Fb",
    "acl", "", "uploads&prefix=signature",
]


@pytest.mark.parametrize("query", QUERIES)
def test_redact_query_agrees_with_redact_secrets(query):
    assert redact_query(query) == redact_secrets(query)
    assert "ab" * 32 not in redact_query(query) and "FwoGZX" not in redact_query(query)
