"""Backends that raise, hang or return garbage: the client gets 500/503 with a request id,
the log has the cause under the same id, and the process keeps serving."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
import webtest

from s3service import S3ServiceMiddleware, timeouts
from s3service.backends.base import BackendUnavailable, BucketInfo, Credential
from s3service.backends.memory import MemoryBackend
from s3service.backends.metrics_base import S3
from s3service.paste import filter_factory

from tests.helpers.signing import signed_environ

ACCOUNT = "f" * 64
KEY, SECRET = "AKIAFAULTS0000000001", "faults-secret-0000000000000000000000001"
HOST = "s3.example.com"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def gateway(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
    return [b"gateway"]


SEED = {   # of the `store` fixture (conftest.py)
    "accounts": {ACCOUNT: "faults"},
    "keys": [(ACCOUNT, KEY, SECRET)],
    "buckets": [(ACCOUNT, f"bucket-{i}") for i in range(3)],
}


class Faulty:
    """A store whose behaviour each test replaces: ``cred`` and ``listing`` callables."""

    def __init__(self, store: MemoryBackend) -> None:
        self.store = store
        self.cred = store.get_credential
        self.listing = store.list_buckets
        self.metrics = store.get_metrics

    def get_credential(self, access_key):
        return self.cred(access_key)

    def list_buckets(self, account_id, **kw):
        return self.listing(account_id, **kw)

    def add_metrics(self, operations, storage):
        self.store.add_metrics(operations, storage)

    def get_metrics(self, start, end, entity=S3):
        return self.metrics(start, end)


@pytest.fixture
def faulty(store):
    return Faulty(store)


@pytest.fixture(autouse=True)
def debug_log(caplog):
    caplog.set_level(logging.DEBUG, logger="s3service")
    return caplog


@pytest.fixture
def small_pool(monkeypatch):
    """A private pool of 2 threads in place of the shared one."""
    pool = timeouts.BoundedPool(2, name="test-backend")
    monkeypatch.setattr(timeouts, "_shared", pool)
    return pool


def make(faulty, **kw):
    return S3ServiceMiddleware(gateway, credentials=faulty, buckets=faulty, service_hosts=[HOST],
                               **kw)


def signed(path="/", method="GET", **kw):
    return signed_environ(method, f"http://{HOST}{path}", KEY, SECRET, **kw)


def request(app, environ):
    """Run in-process; (status, headers, body)."""
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, dict(headers)

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return int(out["status"][:3]), out["headers"], body


def assert_error(status, headers, body, expected_status, code, caplog, cause=None):
    """An S3 error document whose request id is the header's and is in the log with the cause."""
    assert status == expected_status, body
    root = ElementTree.fromstring(body)
    assert root.findtext("Code") == code
    request_id = headers["x-amz-request-id"]
    assert root.findtext("RequestId") == request_id
    assert b"Traceback" not in body and b"injected" not in body
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, "no log line with the request id"
    if cause is not None:
        text = "\n".join(r.getMessage() + "\n" + (logging.Formatter().formatException(r.exc_info)
                                                   if r.exc_info else "") for r in logged)
        assert cause in text, text
    return request_id


def assert_serving(app):
    status, _, body = request(app, signed())
    assert status == 200, body
    assert b"<Name>bucket-0</Name>" in body


# -- backends that raise ----------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [None, 2.0])
@pytest.mark.parametrize(("raises", "status", "code"), [
    (RuntimeError("injected crash"), 500, "InternalError"),
    (BackendUnavailable("injected: store unreachable"), 503, "ServiceUnavailable"),
    (KeyError("injected"), 500, "InternalError"),
])
@pytest.mark.parametrize("where", ["cred", "listing"])
def test_backend_raises(faulty, debug_log, timeout, raises, status, code, where):
    app = make(faulty, backend_timeout=timeout)
    good = getattr(faulty, where)

    def fail(*a, **kw):
        raise raises

    setattr(faulty, where, fail)
    assert_error(*request(app, signed()), status, code, debug_log, cause="injected")
    setattr(faulty, where, good)
    assert_serving(app)


def test_backend_raises_through_webtest(faulty, debug_log):
    app = webtest.TestApp(make(faulty, authenticate_all=True))
    faulty.cred = lambda key: 1 / 0
    environ = signed("/bucket-0/key")
    res = app.get("/bucket-0/key", headers={k[5:].replace("_", "-"): v for k, v in environ.items()
                                            if k.startswith("HTTP_") and k != "HTTP_HOST"},
                  extra_environ={"HTTP_HOST": HOST}, status=500)
    assert_error(res.status_int, dict(res.headers), res.body, 500, "InternalError", debug_log,
                 cause="ZeroDivisionError")


def test_metrics_api_backend_faults_are_json(faulty, debug_log):
    app = make(faulty, metrics=faulty, metrics_flush_interval=None, backend_timeout=2.0,
               metrics_admins=[ACCOUNT])
    faulty.metrics = lambda start, end: (_ for _ in ()).throw(RuntimeError("injected"))
    body = b'{"service": ["s3"], "timeRange": [0, 899999]}'
    status, headers, answer = request(app, signed("/?Action=ListMetrics", "POST", body=body))
    assert status == 500 and headers["x-amz-request-id"]
    assert b'"code": "InternalError"' in answer and b"injected" not in answer
    faulty.metrics = lambda start, end: (_ for _ in ()).throw(BackendUnavailable("injected"))
    status, headers, answer = request(app, signed("/?Action=ListMetrics", "POST", body=body))
    assert status == 503 and b'"code": "ServiceUnavailable"' in answer


# -- backends that hang -------------------------------------------------------------------------

@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()  # let the abandoned threads go


@pytest.mark.parametrize("where", ["cred", "listing"])
def test_hang_past_the_timeout_is_503(faulty, debug_log, small_pool, release, where):
    app = make(faulty, backend_timeout=0.3)
    good = getattr(faulty, where)

    def hang(*a, **kw):
        release.wait(30)
        return good(*a, **kw)

    setattr(faulty, where, hang)
    started = time.monotonic()
    result = request(app, signed())
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2.0
    assert_error(*result, 503, "ServiceUnavailable", debug_log, cause="did not answer within")
    setattr(faulty, where, good)
    release.set()
    assert_serving(app)


def test_all_threads_stuck_answers_503_at_once_then_recovers(faulty, debug_log, small_pool,
                                                             release):
    app = make(faulty, backend_timeout=0.3)
    faulty.cred = lambda key: release.wait(30) and None
    for _ in range(2):      # each abandons one of the two threads
        assert request(app, signed())[0] == 503
    assert small_pool.running == 2
    started = time.monotonic()
    result = request(app, signed())
    assert time.monotonic() - started < 0.2           # no waiting: refused at once
    assert_error(*result, 503, "ServiceUnavailable", debug_log, cause="busy")
    # The store comes back: the stuck calls finish, the threads are free again.
    faulty.cred = faulty.store.get_credential
    release.set()
    deadline = time.monotonic() + 5
    while small_pool.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert small_pool.running == 0
    assert_serving(app)


def test_hang_in_authenticate_all_and_metrics(faulty, debug_log, small_pool, release):
    app = make(faulty, backend_timeout=0.2, authenticate_all=True, metrics=faulty,
               metrics_flush_interval=None)
    faulty.cred = lambda key: release.wait(30) and None
    status, headers, body = request(app, signed("/bucket-0/key"))
    assert_error(status, headers, body, 503, "ServiceUnavailable", debug_log)
    release.set()
    time.sleep(0.05)
    release.clear()
    status, headers, body = request(app, signed("/?Action=ListMetrics", "POST",
                                                body=b'{"service": ["s3"]}'))
    assert status == 503 and b"ServiceUnavailable" in body and headers["x-amz-request-id"]


def test_no_timeout_runs_inline(faulty):
    app = make(faulty)
    threads = []
    faulty.cred = lambda key: threads.append(threading.current_thread()) or \
        faulty.store.get_credential(key)
    assert request(app, signed())[0] == 200
    assert threads == [threading.current_thread()]
    assert app.backend_timeout is None


def test_timeout_validation_and_paste_option(store):
    with pytest.raises(ValueError):
        S3ServiceMiddleware(gateway, credentials=store, buckets=store, backend_timeout=0)
    mw = filter_factory({}, db="memory", backend_timeout="2.5")(gateway)
    assert mw.backend_timeout == 2.5
    assert filter_factory({}, db="memory")(gateway).backend_timeout is None


def test_timeout_lets_exceptions_through_unchanged():
    def boom():
        raise TimeoutError("the backend's own timeout")

    with pytest.raises(TimeoutError, match="backend's own"):
        timeouts.call_with_timeout(1.0, boom)
    assert timeouts.call_with_timeout(1.0, lambda: 42) == 42


# -- backends that return garbage ----------------------------------------------------------------

def _cred(**changes):
    fields = dict(access_key=KEY, secret_key=SECRET, account_id=ACCOUNT, display_name="faults")
    fields.update(changes)
    return Credential(**fields)


@pytest.mark.parametrize("garbage", [
    "a string", 42, object(), SimpleNamespace(access_key=KEY, active=True),   # fields missing
    _cred(secret_key=None), _cred(secret_key=12345), _cred(account_id=None),
    _cred(session_token=7),
], ids=["str", "int", "object", "missing-fields", "secret-none", "secret-int", "account-none",
        "token-int"])
@pytest.mark.parametrize("timeout", [None, 1.0])
def test_garbage_credential_is_500_or_refused(faulty, debug_log, garbage, timeout):
    app = make(faulty, backend_timeout=timeout)
    faulty.cred = lambda key: garbage
    status, headers, body = request(app, signed())
    if status == 500:
        assert_error(status, headers, body, 500, "InternalError", debug_log,
                     cause="Traceback" if False else None)
        assert any(r.exc_info for r in debug_log.records)
    else:   # refused as S3 refuses a key it cannot use
        assert status in (400, 403), body
    faulty.cred = faulty.store.get_credential
    assert_serving(app)


def test_naive_datetime_is_rendered_as_utc(faulty):
    app = make(faulty)
    faulty.listing = lambda account, **kw: [BucketInfo("naive", datetime(2020, 1, 2, 3, 4, 5))]
    status, _, body = request(app, signed())
    assert status == 200
    assert b"<CreationDate>2020-01-02T03:04:05.000Z</CreationDate>" in body


@pytest.mark.parametrize("garbage", [
    lambda: [BucketInfo(12345, datetime.now(timezone.utc))],             # non-str name
    lambda: [BucketInfo("ok", "yesterday")],                              # created not a datetime
    lambda: [BucketInfo("ok", None)],
    lambda: [{"name": "dict", "created": datetime.now(timezone.utc)}],
    lambda: [None],
    lambda: None,                                                         # not iterable
    lambda: 42,
], ids=["int-name", "str-date", "none-date", "dict", "none-item", "none", "int"])
@pytest.mark.parametrize("timeout", [None, 1.0])
def test_garbage_listing_is_500(faulty, debug_log, garbage, timeout):
    app = make(faulty, backend_timeout=timeout)
    faulty.listing = lambda account, **kw: garbage()  # (made in the store, as a store would)
    assert_error(*request(app, signed()), 500, "InternalError", debug_log)
    faulty.listing = faulty.store.list_buckets
    assert_serving(app)


def test_region_none_in_paged_listing_is_500(faulty, debug_log):
    app = make(faulty)
    faulty.listing = lambda account, **kw: [BucketInfo("r", datetime.now(timezone.utc), None)]
    assert_error(*request(app, signed("/?max-buckets=5")), 500, "InternalError", debug_log)


def _failing_after(n):
    def listing(account, **kw):
        for i in range(n):
            yield BucketInfo(f"b{i:06d}", datetime.now(timezone.utc))
        raise RuntimeError("injected: iterator failed midway")
    return listing


@pytest.mark.parametrize("timeout", [None, 1.0])
def test_iterator_failing_in_the_first_page_is_500(faulty, debug_log, timeout):
    app = make(faulty, backend_timeout=timeout)
    faulty.listing = _failing_after(3)
    assert_error(*request(app, signed()), 500, "InternalError", debug_log,
                 cause="iterator failed midway")


def test_iterator_failing_while_streaming_cuts_the_body_and_logs(faulty, debug_log):
    """Headers are gone by then: the body is cut short (never a traceback in it), the log says why."""
    app = make(faulty)
    faulty.listing = _failing_after(5000)
    out = {}
    result = app(signed(), lambda status, headers, exc_info=None: out.update(
        status=status, headers=dict(headers)))
    assert out["status"] == "200 OK" and "Content-Length" not in out["headers"]
    received = b""
    with pytest.raises(RuntimeError, match="midway"):
        for chunk in result:
            received += chunk
    result.close()
    assert b"</ListAllMyBucketsResult>" not in received and b"Traceback" not in received
    request_id = out["headers"]["x-amz-request-id"]
    assert any(request_id in r.getMessage() and "streaming" in r.getMessage()
               for r in debug_log.records)
    faulty.listing = faulty.store.list_buckets
    assert_serving(app)


# -- PostgreSQL: nothing waits for ever ---------------------------------------------------------

def test_sql_statement_timeout_bounds_a_blocked_query(postgres_server, debug_log):
    """A table locked by someone else: the listing gives up after statement_timeout (503)."""
    from sqlalchemy import text

    from s3service.backends.sql import SQLBackend

    url = postgres_server.create_database()
    try:
        store = SQLBackend(url, statement_timeout=0.5)
        store.add_account(ACCOUNT, display_name="faults")
        store.add_key(ACCOUNT, KEY, SECRET)
        store.add_bucket(ACCOUNT, "pg-bucket")
        with store.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "500ms"
        assert SQLBackend(url, statement_timeout=None).engine.connect().execute(
            text("SHOW statement_timeout")).scalar() == "0"
        app = make(store)
        locker = store.engine.connect()
        locker.begin()
        locker.execute(text("LOCK TABLE s3service_buckets IN ACCESS EXCLUSIVE MODE"))
        try:
            started = time.monotonic()
            result = request(app, signed())
            assert time.monotonic() - started < 5
            assert_error(*result, 503, "ServiceUnavailable", debug_log, cause="unavailable")
        finally:
            locker.rollback()
            locker.close()
        status, _, body = request(app, signed())
        assert status == 200 and b"pg-bucket" in body
        # PostgreSQL cannot even compare with a NUL: an empty listing, not a 500.
        status, _, body = request(app, signed("/?bucket-region=%00"))
        assert status == 200 and b"<Buckets></Buckets>" in body
        store.close()
    finally:
        postgres_server.drop_database(url)
