"""No secret key, signature or session token in a log line, an error body or an exception message.

Many requests (good, bad signature, bad or expired token, skewed, V2, V4,
presigned, ListMetrics, backend faults) go through the middleware with the
root and ``s3service`` loggers at DEBUG; every log record (message, args,
exception text), every response body and header, and the text of every
exception the signature check raises are searched for every secret key,
every session token and every signature -- provided by a client or computed
by the middleware.

The one thing an answer may carry is what S3 itself echoes to the sender:
``SignatureDoesNotMatch``'s diagnostics (``SignatureProvided``,
``StringToSign``, ``CanonicalRequest``...) and a malformed header's
``ArgumentValue`` hold the request's *own* signature, never its session token
(redacted there), anything computed from a secret, or another request's values.
"""
from __future__ import annotations

import ast
import io
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import pytest

from s3service import S3ServiceMiddleware
from s3service.auth import authenticate, sigv2, sigv4
from s3service.backends.base import BackendUnavailable, Credential
from s3service.backends.memory import MemoryBackend
from s3service.errors import S3Error

from tests.helpers.signing import signed_environ

ROOT = Path(__file__).resolve().parents[1]
HOST = "s3.example.com"
ACCOUNT = "5" * 64
NOW = time.time()

KEYS = {  # access key -> (secret, session token, expires)
    "AKIASECRETSROOT00001": ("Root+Secret/Key/000000000000000000000001", None, None),
    "AKIASECRETSUSER00002": ("User+Secret/Key/000000000000000000000002", None, None),
    "ASIASECRETSSESSION03": ("Session+Secret/Key/0000000000000000000003",
                             "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN//////////////0003==",
                             datetime.now(timezone.utc) + timedelta(hours=1)),
    "ASIASECRETSEXPIRED04": ("Expired+Secret/Key/0000000000000000000004",
                             "IQoJb3JpZ2luX2VjEXPIREDSESSIONTOKEN////////////0004==",
                             datetime.now(timezone.utc) - timedelta(hours=1)),
}
WRONG_SECRET = "Wrong+Secret/Used/ByAClient/000000000000005"
WRONG_TOKEN = "IQoJb3JpZ2luX2VjWRONGSESSIONTOKEN/////////////////0006=="
ECHO_FIELDS = {"SignatureProvided", "StringToSign", "StringToSignBytes", "CanonicalRequest",
               "CanonicalRequestBytes", "ArgumentValue"}


def gateway(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


class Store(MemoryBackend):
    """A MemoryBackend whose failures each test can switch on."""

    fail: str | None = None

    def get_credential(self, access_key):
        if self.fail == "cred-raise":
            raise RuntimeError("credential store failed")
        if self.fail == "cred-unavailable":
            raise BackendUnavailable("credential store unreachable")
        if self.fail == "cred-garbage":
            cred = super().get_credential(access_key)
            return None if cred is None else Credential(
                access_key=access_key, secret_key=cred.secret_key.encode(),  # bytes: garbage
                account_id=cred.account_id, display_name=cred.display_name)
        if self.fail == "cred-hang":
            time.sleep(0.5)
        return super().get_credential(access_key)

    def list_buckets(self, account_id, **kw):
        if self.fail == "list-raise":
            raise RuntimeError("bucket store failed")
        return super().list_buckets(account_id, **kw)


def make_store() -> Store:
    store = Store()
    store.add_account(ACCOUNT, display_name="secrets")
    for access_key, (secret, token, expires) in KEYS.items():
        store.add_key(ACCOUNT, access_key, secret, session_token=token, expires=expires,
                      user="alice" if "USER" in access_key else None)
    store.add_bucket(ACCOUNT, "secret-bucket")
    store.add_bucket(ACCOUNT, "secret-bucket-2")
    return store


def cases() -> list[tuple[str, dict, str | None]]:
    """(name, environ, store failure) -- signed now, before any DEBUG logging is switched on."""
    out = []
    urls = [f"http://{HOST}/", f"http://{HOST}/?max-buckets=1", f"http://{HOST}/bucket/key"]
    for access_key, (secret, token, _) in KEYS.items():
        for version in ("v4", "v2"):
            for presign in (False, True):
                for url in urls:
                    kw = dict(version=version, presign=presign, session_token=token)
                    name = f"{access_key[-2:]}-{version}-{presign}-{url[-12:]}"
                    out.append((name, signed_environ("GET", url, access_key, secret, **kw), None))
                    out.append(("badsig-" + name, signed_environ(
                        "GET", url, access_key, WRONG_SECRET, **kw), None))
                out.append((f"skewed-{access_key}-{version}-{presign}", signed_environ(
                    "GET", urls[0], access_key, secret, version=version, presign=presign,
                    session_token=token, at=NOW - 7200, expires=60), None))
            out.append((f"badtoken-{access_key}-{version}", signed_environ(
                "GET", urls[0], access_key, secret, version=version,
                session_token=WRONG_TOKEN), None))
        body = b'{"service": ["s3"], "timeRange": [0, 899999]}'
        for sec in (secret, WRONG_SECRET):
            out.append((f"metrics-{access_key}-{sec[:5]}", signed_environ(
                "POST", f"http://{HOST}/?Action=ListMetrics", access_key, sec, body=body,
                session_token=token), None))
        out.append((f"metrics-v2-{access_key}", signed_environ(
            "POST", f"http://{HOST}/?Action=ListMetrics", access_key, secret, version="v2",
            body=body, session_token=token), None))
    root_key = next(iter(KEYS))
    root_secret = KEYS[root_key][0]
    for fail in ("cred-raise", "cred-unavailable", "cred-garbage", "cred-hang", "list-raise"):
        for version in ("v4", "v2"):
            out.append((f"fault-{fail}-{version}", signed_environ(
                "GET", urls[1], root_key, root_secret, version=version), fail))
    # A malformed header that still carries a signature, and one with only garbage.
    env = signed_environ("GET", urls[0], root_key, root_secret)
    env["HTTP_AUTHORIZATION"] = env["HTTP_AUTHORIZATION"].replace("AWS4-HMAC-SHA256", "AWS5")
    out.append(("unsupported-scheme", env, None))
    env = signed_environ("GET", urls[0] + "?X-Amz-Algorithm=x", root_key, root_secret)
    out.append(("header-and-query", env, None))
    return out


def provided(environ: dict) -> set[str]:
    """The signatures and tokens a request carries."""
    found = set()
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Signature=([0-9a-f]+)", auth)
    if m:
        found.add(m.group(1))
    if auth.startswith("AWS "):
        found.add(auth.rpartition(":")[2])
    for name, value in parse_qsl(environ.get("QUERY_STRING", "")):
        if name.lower() in ("x-amz-signature", "signature", "x-amz-security-token"):
            found.add(value)
    if environ.get("HTTP_X_AMZ_SECURITY_TOKEN"):
        found.add(environ["HTTP_X_AMZ_SECURITY_TOKEN"])
    return {f for f in found if len(f) >= 16}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)           # message, exc_info text and stack info
        self.texts.append(f"{text}\n{record.args!r}\n{record.msg!r}\n{record.__dict__!r}")


@pytest.fixture
def computed(monkeypatch):
    """Every signature the middleware computes (spying on the algorithm functions)."""
    seen: set[str] = set()
    lock = threading.Lock()
    for module, name in ((sigv4, "signature"), (sigv2, "signature")):
        original = getattr(module, name)

        def spy(*args, _original=original):
            value = _original(*args)
            with lock:
                seen.add(value)
            return value

        monkeypatch.setattr(module, name, spy)
    return seen


def test_no_secret_in_logs_bodies_or_exceptions(computed):
    all_cases = cases()                     # botocore signs before any logging is captured
    store = make_store()
    apps = [S3ServiceMiddleware(gateway, credentials=store, buckets=store, service_hosts=[HOST],
                                metrics=store, metrics_flush_interval=None, **kw)
            for kw in ({}, {"authenticate_all": True, "backend_timeout": 0.2})]
    capture = Capture()
    root, ours = logging.getLogger(), logging.getLogger("s3service")
    saved = root.level, ours.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    answers: list[tuple[str, dict, bytes, list]] = []
    exceptions: list[str] = []
    try:
        for name, environ, fail in all_cases:
            for app in apps:
                store.fail = fail
                env = dict(environ, **{"wsgi.input": io.BytesIO(
                    environ["wsgi.input"].getvalue())})
                out = {}
                body = b"".join(app(env, lambda s, h, e=None: out.update(status=s, headers=h)))
                answers.append((name, environ, body, out["headers"]))
                store.fail = None
            try:                            # the exceptions the check raises, as such
                authenticate(dict(environ), store, region="us-east-1", service_hosts=[HOST])
            except S3Error as exc:
                exceptions.append(f"{exc}\n{exc!r}\n{exc.args!r}\n{exc.text}")
        time.sleep(0.6)                     # let the hung look-ups finish (their logs too)
    finally:
        root.removeHandler(capture)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        store.fail = None

    secrets = {s for s, _, _ in KEYS.values()} | {WRONG_SECRET}
    tokens = {t for _, t, _ in KEYS.values() if t} | {WRONG_TOKEN}
    provided_all = set().union(*(provided(env) for _, env, _ in all_cases))
    assert len(computed) >= 20 and len(provided_all) >= 50
    everything = secrets | tokens | computed | provided_all
    assert capture.texts and any("SignatureDoesNotMatch" in t for t in capture.texts)

    for text in capture.texts + exceptions:
        leaked = [s for s in everything if s in text]
        assert not leaked, (leaked, text[:2000])

    statuses = set()
    for name, environ, body, headers in answers:
        own = provided(environ)
        header_text = repr(headers)
        assert not [s for s in everything if s in header_text], (name, headers)
        # Never a secret, a session token, a computed signature or another request's values...
        forbidden = secrets | tokens | (computed - own) | (provided_all - own)
        assert not [s for s in forbidden if s in body.decode("utf-8", "replace")], (name, body)
        # ...and the request's own ones only in the fields S3 echoes them in.
        if body.startswith(b"<?xml") and b"<Error>" in body:
            error = ElementTree.fromstring(body)
            statuses.add(error.findtext("Code"))
            rest = "".join(child.text or "" for child in error if child.tag not in ECHO_FIELDS)
            assert not [s for s in everything if s in rest], (name, body)
        elif b'"code"' in body:
            assert not [s for s in everything if s in body.decode()], (name, body)
    assert {"SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InternalError",
            "ServiceUnavailable", "AccessDenied"} <= statuses


def test_credential_repr_hides_secret_and_token():
    cred = Credential("AK", "the-secret", "acct", "name", session_token="the-token")
    assert "the-secret" not in repr(cred) and "the-token" not in repr(cred)
    assert "the-secret" not in str(cred)


# -- constant-time comparison -----------------------------------------------------------------

AUTH_SOURCES = sorted((ROOT / "s3service" / "auth").glob("*.py")) + [
    ROOT / "s3service" / "tokens.py", ROOT / "s3service" / "metrics" / "api.py"]
_SECRETISH = re.compile(r"sig|signature|provided|expected|mac|digest|token|claimed", re.I)


def _names(node: ast.AST) -> str:
    return " ".join(n.id if isinstance(n, ast.Name) else n.attr
                    for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute)))


@pytest.mark.parametrize("path", AUTH_SOURCES, ids=lambda p: p.name)
def test_no_equality_on_signatures(path):
    """No ``==``/``!=``/``in`` between values that hold signatures, MACs or tokens."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        # Comparing with a literal (None, a keyword, a constant name) leaks nothing.
        if any(isinstance(o, ast.Constant) or (isinstance(o, (ast.Name, ast.Attribute))
                                               and _names(o).split()[-1].isupper())
               for o in operands):
            continue
        names = [_names(o) for o in operands]
        if all(_SECRETISH.search(n) for n in names):
            raise AssertionError(f"{path.name}:{node.lineno}: {ast.unparse(node)} "
                                 "compares secrets with ==; use hmac.compare_digest")


def test_signatures_are_compared_with_compare_digest():
    common = (ROOT / "s3service" / "auth" / "common.py").read_text()
    tree = ast.parse(common)
    func = next(n for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and n.name == "constant_time_equal")
    assert "hmac.compare_digest" in ast.unparse(func)
    for module in ("sigv4.py", "sigv2.py"):
        source = (ROOT / "s3service" / "auth" / module).read_text()
        assert "constant_time_equal(provided" in source, module
    assert source.count("constant_time_equal(") >= 2          # v2 tries both resource forms
    tokens_source = (ROOT / "s3service" / "tokens.py").read_text()
    assert tokens_source.count("hmac.compare_digest(") == 2
