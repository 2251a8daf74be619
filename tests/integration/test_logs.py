"""What the library and ``serve`` write in their logs and messages: no forged lines, no secrets.

* Client text (an access key, a method) is escaped: one request, one line,
  whatever control characters or Unicode line separators a client sends.
* ``serve --access-log`` shows presigned URLs with their signature and
  session token redacted; so does every line gunicorn writes with
  examples/gunicorn.conf.py.
* A database password given as ``?password=`` is hidden wherever the URL's
  own password is.
"""
from __future__ import annotations

import http.client
import io
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from s3service import S3ServiceMiddleware
from s3service.backends.base import BackendUnavailable
from s3service import envelope
from s3service.envelope import error_for
from s3service.gateway import logs
from s3service.gateway.logs import LogFormatter
from tests.helpers.signing import presigned_url, signed_environ

ROOT = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
SEED = {"accounts": {ROOT: "Root"}, "keys": [(ROOT, "AKIDROOT", "rootsecret")]}
URL = "http://s3.example.com/"
FORGED = "2030-01-01 00:00:00,000 [1] [INFO] s3service: 0123456789ABCDEF GET 200 - AKIDROOT"
# Everything a log reader may take for the end of a line.
BREAKS = ("\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


REDACTED = "<redacted>"


def log_safe(text: str) -> str:
    return envelope.log_safe(text)


def redact_secrets(text: str) -> str:
    return logs.redact_secrets(text)


# -- 1. the escaping -------------------------------------------------------------------

def test_log_safe_escapes_control_characters_and_line_separators():
    assert log_safe("X\r\nY") == "X\\r\\nY"
    assert log_safe("a\u2028b\u2029c\x85d\te") == "a\\u2028b\\u2029c\\x85d\\te"
    assert log_safe("\x00\x1b\x7f\x9f\u200e\U000e0001") == "\\x00\\x1b\\x7f\\x9f\\u200e\\U000e0001"
    assert log_safe("\udcff") == "\\udcff"                  # a surrogate escape (bytes not UTF-8)
    # A backslash is escaped too, so that no client can write an escape of its own.
    assert log_safe("a\\nb") == "a\\\\nb"
    assert log_safe("a\\nb\n") == "a\\\\nb\\n"
    for text in ("Zoë & <Co> ünïcode", "", "AKIDROOT", "a b"):
        assert log_safe(text) == text


def test_log_safe_returns_printable_text_as_it_is():
    text = "".join(["AKID", "EXAMPLE"])                       # a new object, not an interned one
    assert log_safe(text) is text
    text = "".join(["Zoë", " Co"])
    assert log_safe(text) is text


@pytest.fixture
def request_log():
    """What the ``s3service`` logger writes, as logging's stock formatter formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    logger = logging.getLogger("s3service")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def call(app, environ) -> str:
    environ.setdefault("wsgi.errors", io.StringIO())
    answered = []
    body = app(environ, lambda status, headers, exc_info=None: answered.append(status))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return answered[0]


def assert_one_line_each(text: str, count: int) -> list[str]:
    assert text.endswith("\n"), text
    lines = text[:-1].split("\n")
    assert len(lines) == count, text
    for line in lines:
        assert not any(char in line for char in BREAKS), line
        assert not line.startswith(FORGED[:20])
    assert text.splitlines() == lines    # (str.splitlines() splits at every one of BREAKS)
    return lines


def test_a_forged_access_key_stays_on_its_request_line(store, request_log):
    app = S3ServiceMiddleware(lambda e, s: [], credentials=store, buckets=store,
                              service_hosts=["s3.example.com"])
    environs = []
    for sep in ("\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\\n"):
        key = f"X{sep}{FORGED}"
        environs.append(signed_environ("GET", URL, key, "s", presign=True))             # V4
        environs.append(signed_environ("GET", URL, key, "s", presign=True, version="v2"))
    # In headers: no comma (V4) nor colon (V2), which end the key there.
    environs.append(signed_environ("GET", URL, "X\x85FORGED LINE", "s"))
    environs.append(signed_environ("GET", URL, "X\u2028FORGED LINE", "s", version="v2"))
    forged_method = signed_environ("GET", URL, "AKIDROOT", "rootsecret")
    forged_method["REQUEST_METHOD"] = "GET\r\n" + FORGED
    environs.append(forged_method)
    assert "X-Amz-Credential=X%0D%0A2030" in environs[0]["QUERY_STRING"]
    assert "AWSAccessKeyId=X%0D%0A2030" in environs[1]["QUERY_STRING"]

    statuses = [call(app, environ) for environ in environs]

    assert all(status.startswith(("403", "405")) for status in statuses), statuses
    lines = assert_one_line_each(request_log.getvalue(), len(environs))
    assert " InvalidAccessKeyId X\\r\\n2030-01-01 00:00:00,000 [1] [INFO] s3service: " in lines[0]
    assert " InvalidAccessKeyId X\\r\\n2030-" in lines[1]
    assert lines[4].endswith(" InvalidAccessKeyId X\\r" + FORGED)
    assert lines[6].endswith(" InvalidAccessKeyId X\\u2028" + FORGED)
    assert lines[10].endswith(" InvalidAccessKeyId X\\x85" + FORGED)
    assert lines[14].endswith(" InvalidAccessKeyId X\\\\n" + FORGED)      # no forged escape
    assert lines[16].endswith(" InvalidAccessKeyId X\\x85FORGED LINE")
    assert lines[17].endswith(" InvalidAccessKeyId X\\u2028FORGED LINE")
    assert " GET\\r\\n2030-01-01 " in lines[-1]


def test_the_text_of_a_store_outage_is_logged_on_one_line(request_log):
    error = error_for(BackendUnavailable(f"no answer\n{FORGED}\u2028"), "0123456789ABCDEF",
                      logging.getLogger("s3service"))
    assert error.code == "ServiceUnavailable"
    lines = assert_one_line_each(request_log.getvalue(), 1)
    assert lines[0].endswith("backend unavailable: no answer\\n" + FORGED + "\\u2028")


def test_serves_formatter_escapes_what_others_log():
    formatter = LogFormatter()
    record = logging.LogRecord("sqlalchemy", logging.WARNING, __file__, 1, "bad %s",
                               (f"x\r\n{FORGED}",), None)
    assert formatter.format(record).endswith("sqlalchemy: bad x\\r\\n" + FORGED)
    record = logging.LogRecord("s3service", logging.INFO, __file__, 1, "%s", ("a\\nb",), None)
    assert formatter.format(record).endswith("s3service: a\\nb")        # already escaped


# -- 2. presigned credentials --------------------------------------------------------------

def test_redact_secrets_in_query_strings_and_text():
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Fus-east-1"
             "%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60"
             "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoGZX%2Btok%3D%3D"
             "&X-Amz-Signature=" + "ab" * 32)
    redacted = redact_secrets(query)
    assert redacted == query.replace("FwoGZX%2Btok%3D%3D", REDACTED).replace("ab" * 32, REDACTED)
    assert logs.REDACTED == REDACTED
    assert redact_secrets("AWSAccessKeyId=AK&Expires=1&Signature=abc%2Bdef%3D") == \
        "AWSAccessKeyId=AK&Expires=1&Signature=<redacted>"
    # Names as a server decodes them: any case, percent-encoded, anywhere in a text.
    assert redact_secrets("/b?x-amz-signature=abc&X-Amz-%53ignature=def&%53ignature=g") == \
        "/b?x-amz-signature=<redacted>&X-Amz-%53ignature=<redacted>&%53ignature=<redacted>"
    assert redact_secrets("Invalid request line: 'GET /?Signature=abc HTTP/1.1'") == \
        "Invalid request line: 'GET /?Signature=<redacted> HTTP/1.1'"
    assert redact_secrets("GET /?NotASignature=abc&Signatures=1 HTTP/1.1") == \
        "GET /?NotASignature=abc&Signatures=1 HTTP/1.1"
    text = "".join(["/photos?list-type=2", "&prefix=a"])
    assert redact_secrets(text) is text


def gunicorn_conf_settings() -> dict:
    """The settings examples/gunicorn.conf.py gives gunicorn."""
    path = Path(__file__).resolve().parents[2] / "examples" / "gunicorn.conf.py"
    settings: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), settings)
    return {name: value for name, value in settings.items()
            if not name.startswith("__") and isinstance(value, (str, int, bool))}


def _gunicorn_logger(stream: io.StringIO):
    gunicorn_config = pytest.importorskip("gunicorn.config")
    from s3service.gateway.logs import GunicornLogger

    for name in ("gunicorn.error", "gunicorn.access"):   # (handlers other tests' loggers left)
        logging.getLogger(name).handlers.clear()
    cfg = gunicorn_config.Config()
    for name, value in gunicorn_conf_settings().items():
        if name in cfg.settings:
            cfg.set(name, value)
    assert cfg.logger_class is GunicornLogger     # what examples/gunicorn.conf.py runs with
    logger = GunicornLogger(cfg)
    for handler in logger.access_log.handlers + logger.error_log.handlers:
        handler.stream = stream
    return logger


def test_gunicorns_lines_have_no_signature_and_no_forged_line():
    stream = io.StringIO()
    logger = _gunicorn_logger(stream)
    uri = ("/?AWSAccessKeyId=AK&Expires=9&Signature=SECRETSIG%3D"
           "&X-Amz-Security-Token=SECRETTOKEN")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": uri, "PATH_INFO": "/",
               "QUERY_STRING": uri[2:], "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "agent\x85" + FORGED,
               "HTTP_AUTHORIZATION": "AWS AK:SECRETSIG=", "HTTP_X_AMZ_SECURITY_TOKEN":
               "SECRETTOKEN"}
    resp = SimpleNamespace(status="403 Forbidden", sent=10, headers=[])
    req = SimpleNamespace(headers=[("AUTHORIZATION", "AWS4-HMAC-SHA256 Credential=AK/x, "
                                    "SignedHeaders=host, Signature=SECRETSIG"),
                                   ("X-AMZ-SECURITY-TOKEN", "SECRETTOKEN")])
    atoms = logger.atoms(resp, req, environ, SimpleNamespace(seconds=0, microseconds=5))
    for name in ("r", "q", "{raw_uri}e", "{query_string}e", "{authorization}i",
                 "{x-amz-security-token}i", "{http_authorization}e",
                 "{http_x_amz_security_token}e"):
        assert "SECRET" not in atoms[name], (name, atoms[name])
    assert atoms["r"] == ("GET /?AWSAccessKeyId=AK&Expires=9&Signature=<redacted>"
                          "&X-Amz-Security-Token=<redacted> HTTP/1.1")
    assert atoms["{authorization}i"] == ("AWS4-HMAC-SHA256 Credential=AK/x, "
                                         "SignedHeaders=host, Signature=<redacted>")
    assert atoms["{http_authorization}e"] == "AWS AK:<redacted>"
    assert atoms["a"] == "agent\\x85" + FORGED
    logger.access(resp, req, environ, SimpleNamespace(seconds=0, microseconds=5))
    logger.exception("Error handling request %s %s", "GET", uri)
    logger.warning("Invalid request from ip=127.0.0.1: Invalid HTTP request line: %r"
                   % f"GET {uri} HTTP/1.1\r\n")
    logger.error("Error handling request %s", "/\u2028" + FORGED)
    text = stream.getvalue()
    assert "SECRET" not in text
    assert text.count(REDACTED) == 6
    assert "\u2028" not in text and "\x85" not in text and "\r" not in text


def _send(endpoint: str, url: str) -> int:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = urlsplit(url)
        conn.request("GET", f"{target.path}?{target.query}")   # the URL as it was signed
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_serve_access_log_redacts_presigned_credentials(start_server):
    server = start_server("memory", "--access-log")
    server.wait_ready()
    v4 = presigned_url("GET", server.endpoint + "/", "AKIDNOBODY", "secret",
                       session_token="SESSIONTOKENVALUE")
    v2 = presigned_url("GET", server.endpoint + "/", "AKIDNOBODY", "secret", version="v2",
                       session_token="SESSIONTOKENVALUE")
    secrets = {"SESSIONTOKENVALUE"}
    for url in (v4, v2):
        query = dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))
        secrets.add(query.get("X-Amz-Signature") or query["Signature"])
    assert "X-Amz-Security-Token=SESSIONTOKENVALUE" in v4
    assert _send(server.endpoint, v4) == 403
    assert _send(server.endpoint, v2) == 403
    deadline = time.monotonic() + 10
    while server.out.read_text().count(" HTTP/1.1\"") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop()
    out, err = server.out.read_text(), server.err.read_text()
    for secret in secrets:
        assert secret not in out and secret not in err, secret
    lines = [line for line in out.splitlines() if '"GET /?' in line]
    assert len(lines) == 2, out
    assert re.search(r'"GET /\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDNOBODY'
                     r'%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request&.*'
                     r'X-Amz-Security-Token=<redacted>.*&X-Amz-Signature=<redacted> HTTP/1.1" 403 ',
                     lines[0]), lines[0]
    assert "AWSAccessKeyId=AKIDNOBODY" in lines[1] and "Signature=<redacted>" in lines[1]
    assert "InvalidAccessKeyId AKIDNOBODY" in err            # the library's own line


# -- 4. a password in the database URL's query -------------------------------------------------

def test_a_password_in_the_url_query_is_hidden_like_the_urls_own():
    pytest.importorskip("psycopg")
    from s3service.backends.sql import SQLBackend
    from s3service.backends.sql.guard import OutageGuard

    store = SQLBackend("postgresql+psycopg://u@127.0.0.1:1/db?password=hunter2"
                       "&connect_timeout=1")
    try:
        assert "hunter2" not in repr(store)
        assert repr(store) == ("SQLBackend('postgresql+psycopg://u@127.0.0.1:1/db?"
                               "connect_timeout=1&password=***')")
        with pytest.raises(BackendUnavailable) as info:
            store.list_accounts()
        message = str(info.value)
        assert "hunter2" not in message and "password=***" in message
        assert message.startswith("database postgresql+psycopg://u@127.0.0.1:1/db?")
    finally:
        store.close()

    guard = OutageGuard("postgresql+psycopg://u:pw1@h/db?password=hunter2&sslpassword=k3y"
                        "&PWD=other&application_name=app")
    assert guard.safe_url == ("postgresql+psycopg://u:***@h/db?PWD=***&application_name=app"
                              "&password=***&sslpassword=***")
    error = guard.unavailable(RuntimeError("auth failed for hunter2, k3y, other and pw1"))
    assert str(error).endswith("RuntimeError: auth failed for ***, ***, *** and ***")
