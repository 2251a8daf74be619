"""Requests signed by real botocore: for a WSGI app (environs) or for the wire (headers, URLs).

The one place the tests sign requests (SigV4, SigV2, presigned or not)::

      environ = signed_environ("GET", "http://s3.example.com/bucket/key", "AK", "secret")
      headers = signed_headers("GET", "http://127.0.0.1:8000/", "AK", "secret")
      url = presigned_url("GET", "http://127.0.0.1:8000/bucket/key", "AK", "secret")

all made by :func:`sign` (the signed ``AWSRequest``; nothing goes on the
network).  :func:`client_environ` instead runs a boto3 client call and captures
the request it would have sent (a ``before-send`` hook stops it), for exactly
what an SDK sends for a given operation::

      client = make_client("AK", "secret", signature_version="s3")
      environ = client_environ(client, "list_objects_v2", Bucket="photos")
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from unittest import mock
from urllib.parse import unquote_to_bytes, urlsplit

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

DEFAULT_PORTS = {"http": "80", "https": "443"}


def wsgi_str(value: str | bytes) -> str:
    """A header value as a WSGI server gives it: the UTF-8 bytes decoded as latin-1."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return value.decode("latin-1")


def environ_from_request(method: str, url: str, headers: Mapping[str, Any],
                         body: bytes = b"") -> dict[str, Any]:
    """The WSGI environ a server would build for this (already signed) request."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    port = str(parts.port) if parts.port else DEFAULT_PORTS[scheme]
    host = parts.hostname or ""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}",
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        if value is None:
            continue
        lower = name.lower()
        if lower == "content-type":
            key = "CONTENT_TYPE"
        elif lower == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = wsgi_str(value)
        environ[key] = f"{environ[key]},{value}" if key in environ and key != "HTTP_HOST" else value
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


@contextlib.contextmanager
def frozen_time(at: float | None) -> Iterator[None]:
    """Make botocore sign as if it were ``at`` (epoch seconds); no-op for ``None``."""
    if at is None:
        yield
        return
    moment = datetime.fromtimestamp(at, timezone.utc)

    def now(remove_tzinfo: bool = True) -> datetime:
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    # (with awscrt installed, botocore signs S3 requests with its CRT signers)
    crt_auth = getattr(getattr(botocore, "crt", None), "auth", None)
    with mock.patch.object(botocore.auth, "get_current_datetime", now), \
            mock.patch("time.time", return_value=at), \
            (mock.patch.object(crt_auth, "get_current_datetime", now) if crt_auth is not None
             else contextlib.nullcontext()):
        yield


#: version -> (header signer, query-string signer), all botocore's own.  "v4" is what
#: S3 clients send (x-amz-content-sha256); "v4-generic" botocore's general SigV4
#: for service "s3", as UTAPI (metrics) clients sign; "v2" the S3 HMAC-SHA1 scheme.
SIGNERS: dict[str, tuple[Any, Any]] = {
    "v4": (botocore.auth.S3SigV4Auth, botocore.auth.S3SigV4QueryAuth),
    "v4-generic": (botocore.auth.SigV4Auth, botocore.auth.SigV4QueryAuth),
    "v2": (botocore.auth.HmacV1Auth, botocore.auth.HmacV1QueryAuth),
}

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def sign(method: str, url: str, access_key: str, secret: str, *, version: str = "v4",
         presign: bool = False, expires: int = 3600, headers: Headers | None = None,
         region: str = "us-east-1", session_token: str | None = None, body: bytes = b"",
         auth_path: str | None = None, at: float | None = None) -> AWSRequest:
    """The request signed by botocore (its ``headers``, or its ``url`` when presigned).

    ``url`` is sent as given (so percent-encode it as an SDK would);
    ``version`` is a key of :data:`SIGNERS`; ``presign`` signs the query string
    instead of adding an ``Authorization`` header; ``headers`` are a mapping or
    (name, value) pairs (a name may repeat), a ``Host`` among them signed in
    place of the URL's; ``auth_path`` is the V2 resource path for
    virtual-hosted-style URLs (``/bucket/key``); ``at`` signs as of that time
    (epoch seconds) instead of now.
    """
    try:
        header_signer, query_signer = SIGNERS[version]
    except KeyError:
        raise ValueError(f"unknown signature version {version!r}") from None
    credentials = Credentials(access_key, secret, session_token)
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in _pairs(headers):
        request.headers[name] = value          # appends: a repeated name stays repeated
    if auth_path is not None:
        request.auth_path = auth_path
    signer: Any
    if version == "v2":
        signer = (query_signer(credentials, expires=expires) if presign
                  else header_signer(credentials))
    elif presign:
        signer = query_signer(credentials, "s3", region, expires=expires)
    else:
        signer = header_signer(credentials, "s3", region)
    with frozen_time(at):
        signer.add_auth(request)
    return request


def _pairs(headers: Headers | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    return list(headers.items() if isinstance(headers, Mapping) else headers)


def signed_environ(method: str, url: str, access_key: str, secret: str, *,
                   headers: Headers | None = None, body: bytes = b"", presign: bool = False,
                   **options: Any) -> dict[str, Any]:
    """The WSGI environ a server would see for a request signed by :func:`sign` (same arguments)."""
    request = sign(method, url, access_key, secret, headers=headers, body=body, presign=presign,
                   **options)
    # Whoever uses a presigned URL sends only the headers it was made for, not the
    # ones botocore added while signing (Date, X-Amz-Security-Token...).
    sent = dict(_pairs(headers)) if presign else request.headers
    return environ_from_request(method, request.url, sent, body)


def signed_headers(method: str, url: str, access_key: str, secret: str,
                   **options: Any) -> list[tuple[str, str]]:
    """The headers of a request signed by :func:`sign` (same arguments), as (name, value) pairs."""
    return list(sign(method, url, access_key, secret, **options).headers.items())


def presigned_url(method: str, url: str, access_key: str, secret: str, **options: Any) -> str:
    """``url`` presigned by :func:`sign` (same arguments)."""
    return sign(method, url, access_key, secret, presign=True, **options).url


# -- boto3 clients --------------------------------------------------------------------

class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: Any, **kwargs: Any) -> None:
    raise _Captured(request)


def make_client(access_key: str, secret: str, *, signature_version: str = "s3v4",
                region: str = "us-east-1", endpoint: str = "http://s3.example.com",
                addressing_style: str = "path", session_token: str | None = None) -> Any:
    """A boto3 S3 client whose requests are captured, not sent (see :func:`client_environ`)."""
    client = boto3.client(
        "s3", region_name=region, endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret, aws_session_token=session_token,
        config=Config(signature_version=signature_version, retries={"max_attempts": 0},
                      s3={"addressing_style": addressing_style}))
    client.meta.events.register("before-send.s3", _capture)
    return client


def client_environ(client: Any, operation: str, *, at: float | None = None,
                   **params: Any) -> dict[str, Any]:
    """The WSGI environ for what ``client.<operation>(**params)`` would send."""
    try:
        with frozen_time(at):
            getattr(client, operation)(**params)
    except _Captured as captured:
        request = captured.request
        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        return environ_from_request(request.method, request.url, request.headers, body)
    raise AssertionError(f"{operation} sent no request")


def presigned_environ(client: Any, operation: str, params: Mapping[str, Any], *,
                      method: str = "GET", expires: int = 3600, at: float | None = None,
                      headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The WSGI environ for fetching a URL made by ``client.generate_presigned_url``."""
    with frozen_time(at):
        url = client.generate_presigned_url(operation, Params=dict(params), ExpiresIn=expires,
                                            HttpMethod=method)
    return environ_from_request(method, url, headers or {})
