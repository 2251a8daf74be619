"""Drive malformed requests through S3ServiceMiddleware in-process and check every answer.

The engine of the fuzz run, shared by the tests (``tests/test_fuzz.py``, a
short run and hypothesis on each parser) and the long run by hand::

    python fuzz/fuzz_requests.py --count 100000 [--seed N] [--faults 0.02]

Starts from valid requests signed by botocore (SigV4 and SigV2, header and
presigned, session keys, paged ListBuckets, ListMetrics POSTs) and mutates
copies of them: every truncation of every valid ``Authorization`` header,
non-ASCII access keys, latin-1 header values, 64 KiB headers and query
strings, duplicate and empty parameters, random bytes, swapped and made-up
methods, bad dates, bad continuation and session tokens, bad ListMetrics
bodies...  With ``--faults P`` the store fails (raises, reports itself
unavailable, or returns garbage) on a fraction P of its calls.

Every answer must be one S3 gives: a 200 that parses (ListAllMyBucketsResult
of the signer's own account, the ListMetrics JSON, or the pass-through app),
or an error with a 4xx status -- 5xx only when a fault was injected into
that very request -- whose XML ``<Error>`` carries a ``RequestId`` equal to
the ``x-amz-request-id`` header (ListMetrics: a JSON ``{"code", "message"}``
and the header).  No exception may escape the middleware.

Prints the counts per status and code and the elapsed time; exits 1 on any
violation (the first few are printed), 0 otherwise.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import random
import string
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree

from s3service import S3ServiceMiddleware
from s3service import errors as s3errors
from s3service.backends.base import BackendUnavailable, BucketInfo, Credential
from s3service.backends.memory import MemoryBackend
from s3service.metrics import api as metrics_api

from . import signing

HOST = "s3.example.com"
REGION = "us-east-1"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
PASS_MARK = "X-Fuzz-Passthrough"

ACCOUNTS = {
    "a" * 64: "alice",
    "b" * 64: "bob",
    "c" * 64: "carol",
}
NOW = time.time()


@dataclass
class Key:
    access_key: str
    secret: str
    account: str
    token: str | None = None


KEYS = [
    Key("AKIAFUZZALICE0000001", "alice/secret+KEY/0000000000000000000000", "a" * 64),
    Key("AKIAFUZZBOB000000002", "bob-secret-key-bob-secret-key-bob-00002", "b" * 64),
    Key("ASIAFUZZCAROL0000003", "carol-session-secret-000000000000000003", "c" * 64,
        token="FQoGZXIvYXdzEFuzzSessionTokenCarol////0003=="),
]
INACTIVE = Key("AKIAFUZZINACTIVE0004", "inactive-secret-000000000000000000004", "a" * 64)
EXPIRED = Key("ASIAFUZZEXPIRED00005", "expired-secret-0000000000000000000005", "b" * 64,
              token="FQoGZXIvYXdzEFuzzSessionTokenExpired//0005==")
ALL_KEYS = KEYS + [INACTIVE, EXPIRED]
SECRETS = [k.secret for k in ALL_KEYS] + [k.token for k in ALL_KEYS if k.token]

BUCKETS = {
    "a" * 64: ["alpha-1", "alpha-2", "alpha-photos", "shared-prefix-a", "zeta-a"],
    "b" * 64: ["beta-1", "beta-logs", "shared-prefix-b"],
    "c" * 64: ["gamma-1", "shared-prefix-c"] + [f"gamma-many-{i:04d}" for i in range(40)],
}

# code -> status of every error class S3 answers with.
CODE_STATUS: dict[str, int] = {}
for _module in (s3errors, metrics_api):
    for _obj in vars(_module).values():
        if isinstance(_obj, type) and issubclass(_obj, s3errors.S3Error):
            CODE_STATUS.setdefault(_obj.code, _obj.status)


# -- the world -------------------------------------------------------------------------

def make_store() -> MemoryBackend:
    store = MemoryBackend()
    for account, name in ACCOUNTS.items():
        store.add_account(account, display_name=name)
    for key in KEYS + [INACTIVE]:
        store.add_key(key.account, key.access_key, key.secret, active=key is not INACTIVE,
                      session_token=key.token,
                      expires=(datetime.now(timezone.utc) + timedelta(days=1)
                               if key.token else None))
    store.add_key(EXPIRED.account, EXPIRED.access_key, EXPIRED.secret,
                  session_token=EXPIRED.token,
                  expires=datetime.now(timezone.utc) - timedelta(hours=1))
    for account, names in BUCKETS.items():
        for i, name in enumerate(names):
            store.add_bucket(account, name, region=REGION if i % 3 else "eu-west-1",
                             created=datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(days=i))
    return store


class FaultInjector:
    """Wraps a store; on a fraction of calls it raises, hangs briefly or returns garbage."""

    def __init__(self, store: MemoryBackend, rate: float, rng: random.Random) -> None:
        self.store, self.rate, self.rng = store, rate, rng
        self.injected = False
        self.kinds: Counter[str] = Counter()

    def _fault(self) -> str | None:
        if self.rate <= 0 or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(["raise", "unavailable", "garbage"])
        self.injected = True
        self.kinds[kind] += 1
        return kind

    def get_credential(self, access_key: str) -> Any:
        kind = self._fault()
        if kind == "raise":
            raise RuntimeError("injected credential store failure")
        if kind == "unavailable":
            raise BackendUnavailable("injected: credential store unreachable")
        cred = self.store.get_credential(access_key)
        if kind == "garbage" and cred is not None:
            return self.rng.choice([
                "not a credential", 42, object(),
                Credential(access_key=access_key, secret_key=None,  # type: ignore[arg-type]
                           account_id=cred.account_id, display_name=cred.display_name),
            ])
        return cred

    def list_buckets(self, account_id: str, **kw: Any) -> Any:
        kind = self._fault()
        if kind == "raise":
            raise RuntimeError("injected bucket store failure")
        if kind == "unavailable":
            raise BackendUnavailable("injected: bucket store unreachable")
        found = self.store.list_buckets(account_id, **kw)
        if kind == "garbage":
            return self._garbage(found)
        return found

    def _garbage(self, found: Any) -> Iterator[Any]:
        choice = self.rng.randrange(4)
        for i, bucket in enumerate(found):
            if choice == 0 and i == 1:
                raise RuntimeError("injected: iterator failed midway")
            if choice == 1:
                yield BucketInfo(name=12345, created=bucket.created)  # type: ignore[arg-type]
            elif choice == 2:
                yield {"name": bucket.name}
            else:
                yield BucketInfo(name=bucket.name, created=bucket.created.replace(tzinfo=None),
                                 region=bucket.region)

    def add_metrics(self, operations: Any, storage: Any) -> None:
        self.store.add_metrics(operations, storage)

    def get_metrics(self, start: int, end: int) -> Any:
        kind = self._fault()
        if kind == "raise":
            raise RuntimeError("injected metrics store failure")
        if kind == "unavailable":
            raise BackendUnavailable("injected: metrics store unreachable")
        return self.store.get_metrics(start, end)


def passthrough(environ: dict, start_response: Callable[..., Any]) -> list[bytes]:
    body = b"passthrough"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              (PASS_MARK, "1")])
    return [body]


def make_apps(store: Any) -> list[S3ServiceMiddleware]:
    """Two configurations: plain, and authenticate_all with a token secret."""
    common = dict(credentials=store, buckets=store, region=REGION, service_hosts=[HOST],
                  metrics=store, metrics_flush_interval=None)
    return [S3ServiceMiddleware(passthrough, **common),
            S3ServiceMiddleware(passthrough, authenticate_all=True, token_secret="fuzz-token-key",
                                **common)]


# -- valid requests ------------------------------------------------------------------------

def metrics_body(rng: random.Random | None = None) -> bytes:
    start = (int(NOW * 1000) // 900_000 - 4) * 900_000
    return json.dumps({"service": ["s3"], "timeRange": [start, start + 900_000 - 1]}).encode()


def valid_environs() -> list[tuple[str, dict]]:
    """Requests signed by botocore that the middleware accepts (or 403s for the odd keys)."""
    out: list[tuple[str, dict]] = []
    urls = [f"http://{HOST}/", f"http://{HOST}/?max-buckets=2",
            f"http://{HOST}/?prefix=alpha&max-buckets=1", f"http://{HOST}/?bucket-region=eu-west-1",
            f"http://{HOST}/?prefix=shared-prefix&max-buckets=10000",
            f"http://{HOST}/photos/key.txt", f"http://{HOST}/photos?list-type=2"]
    for key in ALL_KEYS:
        for url in urls:
            for version in ("v4", "v2"):
                for presign in (False, True):
                    env = signing.signed_environ("GET", url, key.access_key, key.secret,
                                                 version=version, presign=presign,
                                                 region=REGION, session_token=key.token)
                    out.append((f"{version}{'-presigned' if presign else ''}", env))
        body = metrics_body()
        env = signing.signed_environ(
            "POST", f"http://{HOST}/?Action=ListMetrics&Version=20160815", key.access_key,
            key.secret, region=REGION, session_token=key.token, body=body,
            headers={"Content-Type": "application/json"})
        out.append(("metrics", env))
    return out


def truncations(bases: list[tuple[str, dict]]) -> Iterator[dict]:
    """Every truncation of every distinct valid Authorization header."""
    seen = set()
    for _, env in bases:
        auth = env.get("HTTP_AUTHORIZATION")
        if auth is None or auth in seen:
            continue
        seen.add(auth)
        for cut in range(len(auth)):
            copy = clone(env)
            copy["HTTP_AUTHORIZATION"] = auth[:cut]
            yield copy


def clone(environ: dict) -> dict:
    copy = dict(environ)
    body = environ["wsgi.input"].getvalue() if hasattr(environ.get("wsgi.input"), "getvalue") \
        else b""
    copy["wsgi.input"] = io.BytesIO(body)
    return copy


# -- mutations -----------------------------------------------------------------------------

LATIN1 = "".join(chr(c) for c in range(0xA0, 0x100))
NON_ASCII_KEYS = ["AKIA\u00e9\u00e9", "\u00ff" * 20, "AK\x00ID", "AKIA\u0130", "\u2603KEY",
                  "AKIA KEY", "A" * 129, "ÄKIAFUZZALICE0000001"]
METHODS = ["PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW", "FOO-BAR",
           "get", "Post", "PROPFIND", "M-SEARCH", "X" * 300, "", "G\u00e9T"]
BAD_DATES = ["", "0", "yesterday", "20130524T000000", "20130524T000000Z", "99991231T235959Z",
             "00000000T000000Z", "20231301T000000Z", "20230230T000000Z", "2023-05-24T00:00:00Z",
             "Sun, 06 Nov 1994 08:49:37 GMT", "Mon, 32 Jan 2024 00:00:00 GMT",
             "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
             "\u00e9" * 16, "2024\x0001T000000Z", "1" * 64, "-1"]
AMZ_HEADERS = ["HTTP_X_AMZ_DATE", "HTTP_X_AMZ_CONTENT_SHA256", "HTTP_X_AMZ_SECURITY_TOKEN",
               "HTTP_X_AMZ_ACL", "HTTP_X_AMZ_META_\u00e9", "HTTP_X_AMZ_", "HTTP_X_AMZ_USER_AGENT"]
QUERY_NAMES = ["max-buckets", "continuation-token", "prefix", "bucket-region", "X-Amz-Algorithm",
               "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires",
               "X-Amz-SignedHeaders", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature",
               "Expires", "Action", "Version", "x-amz-security-token", "acl", ""]
METRICS_BODIES = [b"", b"{", b"[]", b"null", b"{}", b'{"service": "s3"}',
                  b'{"service": ["s3"], "timeRange": "x"}', b'{"service": [], "timeRange": [0]}',
                  b'{"service": ["s4"], "timeRange": [0]}', b'{"service": [1], "timeRange": [0]}',
                  b'{"service": ["s3"], "timeRange": [1]}',
                  b'{"service": ["s3"], "timeRange": [0, 5]}',
                  b'{"service": ["s3"], "timeRange": [1e400]}',
                  b'{"service": ["s3"], "timeRange": [NaN]}',
                  b'{"service": ["s3"], "timeRange": [true, false]}',
                  b'{"service": ["s3"], "timeRange": [-900000]}',
                  b'{"service": ["s3"], "timeRange": [0, 899999, 3]}',
                  b'{"buckets": ["x"]}', b'{"accounts": ["x"]}',
                  b'{"service": ["s3"], "timeRange": [' + b"9" * 5000 + b"]}",
                  b"[" * 100000, b"\xff\xfe\x00", '{"service": ["s3\u00e9"]}'.encode("utf-8"),
                  b'{"service": ["s3"], "timeRange": [0, 1799999]}']


def rand_text(rng: random.Random, n: int | None = None) -> str:
    """Random WSGI text: any latin-1 character (bytes off the wire)."""
    n = rng.randrange(0, 40) if n is None else n
    pool = rng.choice([string.printable, LATIN1, "".join(map(chr, range(256))), "%&=+/;,: "])
    return "".join(rng.choice(pool) for _ in range(n))


def big(rng: random.Random) -> str:
    return rng.choice(["A", "%", "\u00ff", "a=b&", "/"]) * (64 * 1024 // 1)


def _query_pairs(env: dict) -> list[list[str]]:
    return [seg.split("=", 1) if "=" in seg else [seg] for seg in
            (env.get("QUERY_STRING") or "").split("&") if seg]


def _set_query(env: dict, pairs: list[list[str]]) -> None:
    env["QUERY_STRING"] = "&".join("=".join(p) for p in pairs)


def m_truncate_header(rng, env):
    auth = env.get("HTTP_AUTHORIZATION")
    if auth:
        env["HTTP_AUTHORIZATION"] = auth[:rng.randrange(len(auth))]


def m_non_ascii_key(rng, env):
    bad = rng.choice(NON_ASCII_KEYS)
    auth = env.get("HTTP_AUTHORIZATION")
    if auth and "Credential=" in auth:
        head, _, rest = auth.partition("Credential=")
        env["HTTP_AUTHORIZATION"] = head + "Credential=" + bad + rest[rest.find("/"):]
    elif auth and auth.startswith("AWS "):
        env["HTTP_AUTHORIZATION"] = "AWS " + bad + auth[auth.find(":"):]
    else:
        pairs = _query_pairs(env)
        for p in pairs:
            if p[0] == "X-Amz-Credential" and len(p) == 2:
                p[1] = bad + p[1][p[1].find("%2F"):]
            elif p[0] == "AWSAccessKeyId":
                p[1:] = [bad]
        _set_query(env, pairs)


def m_latin1_header(rng, env):
    name = rng.choice(["HTTP_AUTHORIZATION", "HTTP_HOST", "HTTP_DATE", "CONTENT_TYPE"]
                      + AMZ_HEADERS)
    env[name] = rand_text(rng) if rng.random() < 0.5 else "".join(
        rng.choice(LATIN1) for _ in range(rng.randrange(1, 30)))


def m_oversized(rng, env):
    where = rng.randrange(4)
    if where == 0:
        env[rng.choice(["HTTP_AUTHORIZATION", "HTTP_HOST"] + AMZ_HEADERS)] = big(rng)
    elif where == 1:
        env["QUERY_STRING"] = (env.get("QUERY_STRING") or "") + "&" + big(rng)
    elif where == 2:
        auth = env.get("HTTP_AUTHORIZATION")
        if auth:
            env["HTTP_AUTHORIZATION"] = auth + "," + "x" * 65536
        else:
            env["QUERY_STRING"] = (env.get("QUERY_STRING") or "") + "&prefix=" + "p" * 65536
    else:
        env["QUERY_STRING"] = "max-buckets=" + "9" * 65536


def m_duplicate_param(rng, env):
    pairs = _query_pairs(env)
    if pairs:
        pairs.append(list(rng.choice(pairs)))
    else:
        pairs = [["max-buckets", "1"], ["max-buckets", "2"]]
    rng.shuffle(pairs)
    _set_query(env, pairs)


def m_empty(rng, env):
    choice = rng.randrange(3)
    if choice == 0:
        pairs = _query_pairs(env)
        if pairs:
            p = rng.choice(pairs)
            p[1:] = [""] if rng.random() < 0.5 else []
        else:
            pairs = [[rng.choice(QUERY_NAMES), ""]]
        _set_query(env, pairs)
    elif choice == 1:
        env[rng.choice(["HTTP_AUTHORIZATION", "HTTP_HOST", "HTTP_DATE"] + AMZ_HEADERS)] = ""
    else:
        for name in ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_DATE", "HTTP_HOST"):
            if rng.random() < 0.5:
                env.pop(name, None)


def m_random_bytes(rng, env):
    target = rng.randrange(4)
    if target == 0:
        env["HTTP_AUTHORIZATION"] = rand_text(rng, rng.randrange(200))
    elif target == 1:
        env["QUERY_STRING"] = rand_text(rng, rng.randrange(200))
    elif target == 2:
        env["PATH_INFO"] = rng.choice(["/", "", "//", "/" + rand_text(rng)])
    else:
        auth = env.get("HTTP_AUTHORIZATION")
        if auth:
            i = rng.randrange(len(auth))
            env["HTTP_AUTHORIZATION"] = auth[:i] + rand_text(rng, rng.randrange(1, 5)) + auth[i + 1:]


def m_method(rng, env):
    env["REQUEST_METHOD"] = rng.choice(METHODS)


def m_bad_date(rng, env):
    date = rng.choice(BAD_DATES)
    where = rng.randrange(3)
    if where == 0:
        env["HTTP_X_AMZ_DATE"] = date
    elif where == 1:
        env.pop("HTTP_X_AMZ_DATE", None)
        env["HTTP_DATE"] = date
    else:
        pairs = _query_pairs(env)
        for p in pairs:
            if p[0] in ("X-Amz-Date", "Expires"):
                p[1:] = [date.replace("&", "")]
        _set_query(env, pairs)


def m_bad_token(rng, env):
    token = rng.choice(["", "x", "AAAA", "AQ==", "%00", rand_text(rng), "A" * 2000,
                        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMn",
                        KEYS[2].token or ""])
    if rng.random() < 0.6:
        env["QUERY_STRING"] = (env.get("QUERY_STRING") or "") + "&continuation-token=" + token
    else:
        env["HTTP_X_AMZ_SECURITY_TOKEN"] = token


def m_params(rng, env):
    name = rng.choice(QUERY_NAMES)
    value = rng.choice(["0", "1", "10000", "10001", "-1", "1.5", " 1", "\u0663", "99999999999",
                        "eu-west-1", "alpha", "", "%ff", "%", rand_text(rng)])
    env["QUERY_STRING"] = (env.get("QUERY_STRING") or "") + f"&{name}={value}"


def m_signature(rng, env):
    auth = env.get("HTTP_AUTHORIZATION")
    if auth and "Signature=" in auth:
        env["HTTP_AUTHORIZATION"] = auth[:auth.rfind("=") + 1] + "".join(
            rng.choice("0123456789abcdef") for _ in range(64))
    elif auth:
        env["HTTP_AUTHORIZATION"] = auth[:auth.rfind(":") + 1] + "AAAA" + auth[-20:]
    else:
        pairs = _query_pairs(env)
        for p in pairs:
            if p[0] in ("X-Amz-Signature", "Signature"):
                p[1:] = ["0" * 64]
        _set_query(env, pairs)


def m_metrics_body(rng, env):
    body = rng.choice(METRICS_BODIES)
    env["REQUEST_METHOD"] = "POST"
    env["PATH_INFO"] = "/"
    if rng.random() < 0.5:
        env["QUERY_STRING"] = rng.choice(["Action=ListMetrics", "Action=ListRecentMetrics",
                                          "Action=Nope", "", "Action=ListMetrics&Action=x",
                                          env.get("QUERY_STRING") or ""])
    env["wsgi.input"] = io.BytesIO(body)
    length = rng.choice([str(len(body)), str(len(body)), "", "abc", "-1", str(len(body) + 10),
                         str(10 ** 9), "9" * 5000])
    if length == "":
        env.pop("CONTENT_LENGTH", None)
    else:
        env["CONTENT_LENGTH"] = length
    if rng.random() < 0.3:
        env["HTTP_X_AMZ_CONTENT_SHA256"] = rng.choice(["UNSIGNED-PAYLOAD", "0" * 64, "zz",
                                                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])


def m_host(rng, env):
    env["HTTP_HOST"] = rng.choice([HOST, "photos." + HOST, "127.0.0.1:8080", "[::1]:80", "",
                                   "[::1", HOST + ":99999999999999999999", "\u00e9." + HOST,
                                   rand_text(rng)])


def m_content_sha(rng, env):
    env["HTTP_X_AMZ_CONTENT_SHA256"] = rng.choice(["", "UNSIGNED-PAYLOAD", "g" * 64,
                                                   "e3b0c44298fc1c149afbf4c8996fb924"
                                                   "27ae41e4649b934ca495991b7852b855",
                                                   rand_text(rng)])


MUTATIONS: list[Callable[[random.Random, dict], None]] = [
    m_truncate_header, m_non_ascii_key, m_latin1_header, m_oversized, m_duplicate_param,
    m_empty, m_random_bytes, m_method, m_bad_date, m_bad_token, m_params, m_signature,
    m_metrics_body, m_host, m_content_sha]


def mutate(rng: random.Random, environ: dict) -> dict:
    env = clone(environ)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        rng.choice(MUTATIONS)(rng, env)
    return env


# -- running and checking -------------------------------------------------------------------

@dataclass
class Answer:
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None   # an exception that escaped, formatted


def call(app: Callable[..., Any], environ: dict) -> Answer:
    """Run one request through a WSGI app, in-process."""
    answer = Answer()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer.status, answer.headers = status, list(headers)
        return lambda data: None

    try:
        result = app(environ, start_response)
        try:
            answer.body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception:
        answer.error = traceback.format_exc()
    return answer


def service_level(app: S3ServiceMiddleware, environ: dict) -> bool:
    return environ.get("PATH_INFO") in ("/", "") and not app.is_bucket_host(environ)


def check(app: S3ServiceMiddleware, environ: dict, answer: Answer, *,
          fault: bool = False) -> tuple[str, str | None]:
    """``(label, violation)``: a label for the statistics, and what is wrong (``None``: fine)."""
    if answer.error is not None:
        return "exception", "unhandled exception:\n" + answer.error
    status_text = answer.status
    try:
        status = int(status_text.split(" ", 1)[0])
    except ValueError:
        return "bad-status", f"unparseable status line {status_text!r}"
    headers = {}
    for name, value in answer.headers:
        if not isinstance(name, str) or not isinstance(value, str):
            return str(status), f"non-str header {name!r}: {value!r}"
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return str(status), f"header {name} not latin-1: {value!r}"
        if "\n" in value or "\r" in value:
            return str(status), f"header {name} has a line break"
        headers[name.lower()] = value
    method = environ.get("REQUEST_METHOD")
    is_service = service_level(app, environ)
    metrics = is_service and method == "POST" and app.metrics_api is not None
    if status == 200:
        if headers.get(PASS_MARK.lower()) == "1":
            if is_service and method != "POST":
                return "200 passthrough", "a service-level request reached the app"
            return "200 passthrough", None
        if metrics:
            try:
                data = json.loads(answer.body)
            except ValueError:
                return "200 metrics", "ListMetrics 200 is not JSON"
            if not isinstance(data, list):
                return "200 metrics", "ListMetrics 200 is not a JSON list"
            return "200 metrics", None
        return "200 ListBuckets", _check_listing(answer.body, method)
    if status >= 500 and not fault and not (status == 501 and _code(answer.body, metrics)
                                             == "NotImplemented"):
        label = f"{status} {_code(answer.body, metrics)}"
        return label, f"{status} without an injected fault"
    if not (400 <= status < 600):
        return str(status), f"unexpected status {status}"
    request_id = headers.get("x-amz-request-id")
    if not request_id:
        return str(status), "no x-amz-request-id header"
    if metrics:
        try:
            data = json.loads(answer.body)
        except ValueError:
            return f"{status} ?", "metrics error body is not JSON"
        if not isinstance(data, dict) or set(data) != {"code", "message"}:
            return f"{status} ?", f"metrics error body is not {{code, message}}: {data!r}"
        code = data["code"]
        if headers.get("content-type") != "application/json":
            return f"{status} {code}", "metrics error without Content-Type application/json"
        return f"{status} {code} (json)", _status_matches(code, status)
    if method == "HEAD":
        if answer.body:
            return f"{status} HEAD", "HEAD answered with a body"
        return f"{status} (HEAD)", None
    try:
        root = ElementTree.fromstring(answer.body)
    except ElementTree.ParseError as exc:
        return f"{status} ?", f"error body is not XML ({exc}): {answer.body[:200]!r}"
    if root.tag != "Error":
        return f"{status} ?", f"error root is <{root.tag}>"
    code = root.findtext("Code") or ""
    label = f"{status} {code}"
    if root.findtext("RequestId") != request_id:
        return label, "RequestId differs from x-amz-request-id"
    if not root.findtext("Message"):
        return label, "no Message"
    if headers.get("content-type") != "application/xml":
        return label, "error without Content-Type application/xml"
    if str(len(answer.body)) != headers.get("content-length"):
        return label, "Content-Length differs from the body"
    return label, _status_matches(code, status)


def _code(body: bytes, metrics: bool) -> str:
    try:
        if metrics:
            return json.loads(body)["code"]
        return ElementTree.fromstring(body).findtext("Code") or "?"
    except Exception:
        return "?"


def _status_matches(code: str, status: int) -> str | None:
    expected = CODE_STATUS.get(code)
    if expected is None:
        return f"unknown error code {code!r}"
    if expected != status:
        return f"{code} answered with {status}, expected {expected}"
    return None


def _check_listing(body: bytes, method: str | None) -> str | None:
    if method != "GET":
        return f"ListBuckets answered a {method}"
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        return f"ListBuckets body is not XML: {exc}"
    if root.tag != S3_NS + "ListAllMyBucketsResult":
        return f"200 with root <{root.tag}>"
    owner = root.findtext(f"{S3_NS}Owner/{S3_NS}ID")
    if owner not in BUCKETS:
        return f"listing of unknown owner {owner!r}"
    for name in root.iterfind(f"{S3_NS}Buckets/{S3_NS}Bucket/{S3_NS}Name"):
        if name.text not in BUCKETS[owner]:
            return f"bucket {name.text!r} listed for {owner} who does not own it"
    return None


# -- the run -----------------------------------------------------------------------------

def requests(rng: random.Random, bases: list[tuple[str, dict]], count: int) -> Iterator[dict]:
    """``count`` requests: the truncations first, then random mutations."""
    n = 0
    for env in truncations(bases):
        if n >= count:
            return
        yield env
        n += 1
    while n < count:
        yield mutate(rng, rng.choice(bases)[1])
        n += 1


def run(count: int, seed: int = 0, faults: float = 0.0, verbose: bool = True,
        max_report: int = 10) -> tuple[Counter[str], list[str], float]:
    """Drive ``count`` requests; returns (label counts, violations, seconds)."""
    rng = random.Random(seed)
    store = make_store()
    injector = FaultInjector(store, faults, random.Random(seed + 1))
    apps = make_apps(injector)
    bases = valid_environs()
    counts: Counter[str] = Counter()
    violations: list[str] = []
    started = time.monotonic()
    for i, environ in enumerate(requests(rng, bases, count)):
        app = apps[i % len(apps)]
        injector.injected = False
        snapshot = {k: v for k, v in environ.items() if k != "wsgi.input"}
        answer = call(app, environ)
        label, problem = check(app, environ, answer, fault=injector.injected)
        counts[label] += 1
        if problem is not None:
            violations.append(problem)
            if verbose and len(violations) <= max_report:
                print(f"VIOLATION #{len(violations)}: {problem}\n  request: "
                      f"{_short(snapshot)}\n  answer: {answer.status} {answer.body[:300]!r}",
                      file=sys.stderr)
        if verbose and (i + 1) % 20000 == 0:
            print(f"... {i + 1} requests, {time.monotonic() - started:.1f} s", file=sys.stderr)
    return counts, violations, time.monotonic() - started


def _short(environ: dict) -> str:
    return repr({k: (v[:120] + "..." if isinstance(v, str) and len(v) > 120 else v)
                 for k, v in environ.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="requests to send")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", type=float, default=0.0,
                        help="fraction of store calls that fail (5xx allowed only for those)")
    parser.add_argument("--log", action="store_true", help="show the middleware's log")
    args = parser.parse_args(argv)
    if not args.log:
        logging.getLogger("s3service").setLevel(logging.CRITICAL)
    counts, violations, elapsed = run(args.count, args.seed, args.faults)
    total = sum(counts.values())
    print(f"requests: {total}  elapsed: {elapsed:.1f} s  ({total / elapsed:.0f}/s)  "
          f"seed: {args.seed}  faults: {args.faults}")
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:8d}  {label}")
    print(f"violations: {len(violations)}")
    return 1 if violations else 0

