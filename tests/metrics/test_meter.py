"""Pure parts of the metrics feature: classifier, time ranges, rendering, intervals, meter."""
from __future__ import annotations

import io
import json
import threading
import tracemalloc

import pytest

from s3service.backends.base import BackendUnavailable
from s3service.backends.memory import MemoryBackend
from s3service.backends.memory.metrics import MemoryMetrics
from s3service.backends.sql import SQLBackend
from s3service.layers.metering import CountingInput, metered_call
from s3service.metrics import (INTERVAL_MS, OPERATIONS, Meter, MetricsStore, MetricsTotals,
                               classify, interval_start)
from s3service.metrics.api import (InvalidParameterValue, MaxMessageLengthExceeded,
                                   WrongFormat, json_error,
                                   parse_request_body, read_body, render_metrics,
                                   validate_time_range)
from s3service.backends.metrics_base import S3, USERS, Entity
from s3service.errors import MissingContentLength, SignatureDoesNotMatch

# 2024-01-02T10:15:00Z, on an interval boundary
T0 = 1704190500000
assert T0 % INTERVAL_MS == 0


# -- classifier ---------------------------------------------------------------

CASES = [
    # method, path, query, bucket_in_host, copy_source, expected
    ("GET", "/", "", False, False, "s3:ListAllMyBuckets"),
    ("PUT", "/photos", "", False, False, "s3:CreateBucket"),
    ("PUT", "/photos/", "", False, False, "s3:CreateBucket"),
    ("DELETE", "/photos", "", False, False, "s3:DeleteBucket"),
    ("HEAD", "/photos", "", False, False, "s3:HeadBucket"),
    ("GET", "/photos", "", False, False, "s3:ListBucket"),
    ("GET", "/photos", "list-type=2&prefix=a", False, False, "s3:ListBucket"),
    ("GET", "/photos", "versions", False, False, "s3:ListBucket"),
    ("GET", "/photos", "location", False, False, "s3:GetBucketLocation"),
    ("GET", "/photos", "acl", False, False, "s3:GetBucketAcl"),
    ("PUT", "/photos", "acl", False, False, "s3:PutBucketAcl"),
    ("GET", "/photos", "uploads", False, False, "s3:ListBucketMultipartUploads"),
    ("POST", "/photos", "delete", False, False, "s3:MultiObjectDelete"),
    ("PUT", "/photos", "versioning", False, False, "s3:PutBucketVersioning"),
    ("GET", "/photos", "versioning", False, False, "s3:GetBucketVersioning"),
    ("PUT", "/photos", "cors", False, False, "s3:PutBucketCors"),
    ("GET", "/photos", "cors", False, False, "s3:GetBucketCors"),
    ("DELETE", "/photos", "cors", False, False, "s3:DeleteBucketCors"),
    ("PUT", "/photos", "website", False, False, "s3:PutBucketWebsite"),
    ("GET", "/photos", "website", False, False, "s3:GetBucketWebsite"),
    ("DELETE", "/photos", "website", False, False, "s3:DeleteBucketWebsite"),
    ("PUT", "/photos", "lifecycle", False, False, "s3:PutBucketLifecycle"),
    ("GET", "/photos", "lifecycle", False, False, "s3:GetBucketLifecycle"),
    ("DELETE", "/photos", "lifecycle", False, False, "s3:DeleteBucketLifecycle"),
    ("PUT", "/photos", "replication", False, False, "s3:PutBucketReplication"),
    ("GET", "/photos", "replication", False, False, "s3:GetBucketReplication"),
    ("DELETE", "/photos", "replication", False, False, "s3:DeleteBucketReplication"),
    ("PUT", "/photos", "policy", False, False, "s3:PutBucketPolicy"),
    ("GET", "/photos", "policy", False, False, "s3:GetBucketPolicy"),
    ("DELETE", "/photos", "policy", False, False, "s3:DeleteBucketPolicy"),
    ("PUT", "/photos/cat.jpg", "", False, False, "s3:PutObject"),
    ("PUT", "/photos/cat.jpg", "", False, True, "s3:CopyObject"),
    ("PUT", "/photos/a/b/c", "", False, False, "s3:PutObject"),
    ("GET", "/photos/cat.jpg", "", False, False, "s3:GetObject"),
    ("GET", "/photos/cat.jpg", "versionId=3", False, False, "s3:GetObject"),
    ("HEAD", "/photos/cat.jpg", "", False, False, "s3:HeadObject"),
    ("DELETE", "/photos/cat.jpg", "", False, False, "s3:DeleteObject"),
    ("GET", "/photos/cat.jpg", "acl", False, False, "s3:GetObjectAcl"),
    ("PUT", "/photos/cat.jpg", "acl", False, False, "s3:PutObjectAcl"),
    ("GET", "/photos/cat.jpg", "tagging", False, False, "s3:GetObjectTagging"),
    ("PUT", "/photos/cat.jpg", "tagging", False, False, "s3:PutObjectTagging"),
    ("DELETE", "/photos/cat.jpg", "tagging", False, False, "s3:DeleteObjectTagging"),
    ("POST", "/photos/cat.jpg", "uploads", False, False, "s3:InitiateMultipartUpload"),
    ("PUT", "/photos/cat.jpg", "partNumber=1&uploadId=x", False, False, "s3:UploadPart"),
    ("PUT", "/photos/cat.jpg", "partNumber=1&uploadId=x", False, True, "s3:UploadPartCopy"),
    ("GET", "/photos/cat.jpg", "uploadId=x", False, False, "s3:ListMultipartUploadParts"),
    ("POST", "/photos/cat.jpg", "uploadId=x", False, False, "s3:CompleteMultipartUpload"),
    ("DELETE", "/photos/cat.jpg", "uploadId=x", False, False, "s3:AbortMultipartUpload"),
    # virtual-hosted style: the path is the key
    ("GET", "/", "", True, False, "s3:ListBucket"),
    ("PUT", "/", "", True, False, "s3:CreateBucket"),
    ("GET", "/", "acl", True, False, "s3:GetBucketAcl"),
    ("GET", "/cat.jpg", "", True, False, "s3:GetObject"),
    ("PUT", "/cat.jpg", "", True, False, "s3:PutObject"),
    ("POST", "/", "delete", True, False, "s3:MultiObjectDelete"),
    # not S3 operations
    ("PUT", "/", "", False, False, None),
    ("OPTIONS", "/photos/cat.jpg", "", False, False, None),
    ("PATCH", "/photos", "", False, False, None),
]


@pytest.mark.parametrize("method,path,query,vhost,copy,expected", CASES)
def test_classify(method, path, query, vhost, copy, expected):
    assert classify(method, path, query, bucket_in_host=vhost, copy_source=copy) == expected


def test_every_classified_name_is_listed():
    names = {c[-1] for c in CASES if c[-1] is not None}
    assert names <= set(OPERATIONS)
    assert all(op.startswith("s3:") for op in OPERATIONS)
    assert len(set(OPERATIONS)) == len(OPERATIONS)
    for name in ("s3:ListAllMyBuckets", "s3:CreateBucket", "s3:PutObject", "s3:GetObject",
                 "s3:ListBucketMultipartUploads", "s3:UploadPart", "s3:CopyObject"):
        assert name in OPERATIONS


# -- time ranges ----------------------------------------------------------------

def test_time_range_aligned():
    assert validate_time_range([T0, T0 + INTERVAL_MS - 1], T0 + 5) == (T0, T0 + INTERVAL_MS - 1)
    assert validate_time_range([T0, T0 + 4 * INTERVAL_MS - 1], 0) == (T0, T0 + 4 * INTERVAL_MS - 1)


def test_time_range_missing_end_is_now():
    assert validate_time_range([T0], T0 + 1234) == (T0, T0 + 1234)
    assert validate_time_range([T0, None], T0 + 1234) == (T0, T0 + 1234)


def test_time_range_future_end_is_fine():
    now = T0 + 60_000
    assert validate_time_range([T0, T0 + INTERVAL_MS - 1], now)[1] == T0 + INTERVAL_MS - 1
    assert validate_time_range([T0, T0 + 100 * INTERVAL_MS - 1], now)[1] > now


@pytest.mark.parametrize("value", [
    [T0 + 1, T0 + INTERVAL_MS - 1],                 # start not on a boundary
    [T0 + 60_000, T0 + INTERVAL_MS - 1],            # minute 16
    [T0, T0 + INTERVAL_MS],                          # end on a boundary, not its last ms
    [T0, T0 + INTERVAL_MS - 2],
    [T0, T0 - 1],                                    # inverted
    [T0 + INTERVAL_MS, T0 + INTERVAL_MS - 1],        # inverted by one interval
    [], [T0, T0 + INTERVAL_MS - 1, 5], "x", None, {"start": T0},
    ["1704190500000"], [True], [-INTERVAL_MS], [T0 + 0.5], [T0, T0 + INTERVAL_MS - 1.5],
])
def test_time_range_invalid(value):
    with pytest.raises(InvalidParameterValue):
        validate_time_range(value, T0 + 10 * INTERVAL_MS)


def test_time_range_start_in_future_without_end():
    with pytest.raises(InvalidParameterValue):
        validate_time_range([T0 + INTERVAL_MS], T0)


def test_time_range_integral_float():
    assert validate_time_range([float(T0), float(T0 + INTERVAL_MS - 1)], T0) == \
        (T0, T0 + INTERVAL_MS - 1)


# -- request bodies -------------------------------------------------------------------

def test_parse_body():
    data = parse_request_body(b'{"timeRange": [1, 2], "service": ["s3", "s3"]}', "ListMetrics")
    assert data["service"] == ["s3"]
    assert (data["level"], data["names"]) == ("service", ["s3"])
    data = parse_request_body(b'{"timeRange": [1], "buckets": ["b", "a", "b"]}', "ListMetrics")
    assert (data["level"], data["names"]) == ("buckets", ["b", "a"])
    for level in ("accounts", "users"):
        data = parse_request_body(b'{"%s": "x"}' % level.encode(), "ListRecentMetrics")
        assert (data["level"], data["names"]) == (level, ["x"])
    assert parse_request_body(b'{"service": "s3"}', "ListRecentMetrics")["service"] == ["s3"]


@pytest.mark.parametrize("body,error", [
    (b"{not json", InvalidParameterValue),
    (b"\xff\xfe", InvalidParameterValue),
    (b"[1, 2]", InvalidParameterValue),
    (b"[" * 100000, InvalidParameterValue),
    (b'{"service": ["s3"]}', WrongFormat),
    (b'{"timeRange": [0]}', WrongFormat),
    (b'{"timeRange": [0], "service": ["s4"]}', InvalidParameterValue),
    (b'{"timeRange": [0], "service": []}', InvalidParameterValue),
    (b'{"timeRange": [0], "service": [3]}', InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": []}', InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": [""]}', InvalidParameterValue),
    (b'{"timeRange": [0], "users": [1]}', InvalidParameterValue),
    (b'{"timeRange": [0], "accounts": {"a": 1}}', InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": ["' + b"x" * 256 + b'"]}', InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": [' + b",".join(b'"b%d"' % i for i in range(101)) + b"]}",
     InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": ["a"], "accounts": ["b"]}', InvalidParameterValue),
    (b'{"timeRange": [0], "buckets": ["a"], "service": ["s3"]}', InvalidParameterValue),
])
def test_parse_body_errors(body, error):
    with pytest.raises(error):
        parse_request_body(body, "ListMetrics")


def test_read_body_limits():
    assert read_body({"CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abcdef")}) == b"abc"
    with pytest.raises(MissingContentLength):
        read_body({"wsgi.input": io.BytesIO(b"abc")})

    class Endless:
        reads = 0

        def read(self, n=-1):
            self.reads += 1
            return b"x" * (n if n > 0 else 10)

    stream = Endless()
    with pytest.raises(MaxMessageLengthExceeded):
        read_body({"CONTENT_LENGTH": str(10 ** 9), "wsgi.input": stream}, limit=1024)
    assert stream.reads == 0
    # a stream going on past its Content-Length is read only up to it
    assert read_body({"CONTENT_LENGTH": "100", "wsgi.input": stream}) == b"x" * 100


# -- answers ------------------------------------------------------------------------------

def test_render_metrics():
    totals = MetricsTotals(operations={"s3:PutObject": 3, "s3:GetObject": 2},
                           incoming_bytes=30, outgoing_bytes=20, storage_utilized=(5, 35),
                           number_of_objects=(1, 4))
    out = render_metrics("s3", (T0, T0 + INTERVAL_MS - 1), totals)
    assert list(out) == ["serviceName", "timeRange", "storageUtilized", "incomingBytes",
                         "outgoingBytes", "numberOfObjects", "operations"]
    assert out["serviceName"] == "s3"
    assert out["timeRange"] == [T0, T0 + INTERVAL_MS - 1]
    assert out["storageUtilized"] == [5, 35] and out["numberOfObjects"] == [1, 4]
    assert out["incomingBytes"] == 30 and out["outgoingBytes"] == 20
    assert set(out["operations"]) == set(OPERATIONS)
    assert out["operations"]["s3:PutObject"] == 3
    assert out["operations"]["s3:DeleteBucket"] == 0
    json.dumps(out)


def test_json_error():
    assert json.loads(json_error(SignatureDoesNotMatch(access_key="AK", string_to_sign="", provided=""))) == {
        "code": "SignatureDoesNotMatch", "message": SignatureDoesNotMatch.message}
    assert json.loads(json_error(WrongFormat("no timeRange")))["message"] == "no timeRange"


# -- intervals and the stores ----------------------------------------------------------------

def test_interval_start():
    assert interval_start(T0) == T0
    assert interval_start(T0 + INTERVAL_MS - 1) == T0
    assert interval_start(T0 + INTERVAL_MS) == T0 + INTERVAL_MS
    assert interval_start(T0 - 1) == T0 - INTERVAL_MS


@pytest.mark.parametrize("make", [MemoryMetrics, MemoryBackend])
def test_memory_store(make):
    store = make()
    assert isinstance(store, MetricsStore)
    store.add_metrics({(T0, S3, "s3:PutObject"): (2, 100, 0), (T0, S3, ""): (1, 7, 9),
                       (T0 + INTERVAL_MS, S3, "s3:GetObject"): (1, 0, 50),
                       (T0, Entity.bucket("b"), "s3:PutObject"): (5, 5, 5)},
                      {(T0 - INTERVAL_MS, S3): (1000, 2), (T0, S3): (100, 1),
                       (T0 + INTERVAL_MS, S3): (-50, -1), (T0, Entity.bucket("b")): (7, 7)})
    store.add_metrics({(T0, S3, "s3:PutObject"): (1, 10, 0)}, {})
    first = store.get_metrics(T0, T0 + INTERVAL_MS - 1)
    assert first.operations == {"s3:PutObject": 3}
    assert (first.incoming_bytes, first.outgoing_bytes) == (117, 9)
    assert first.storage_utilized == (1000, 1100)
    assert first.number_of_objects == (2, 3)
    both = store.get_metrics(T0, T0 + 2 * INTERVAL_MS - 1)
    assert both.operations == {"s3:PutObject": 3, "s3:GetObject": 1}
    assert both.storage_utilized == (1000, 1050) and both.number_of_objects == (2, 2)
    empty = store.get_metrics(T0 + 4 * INTERVAL_MS, T0 + 5 * INTERVAL_MS - 1)
    assert empty.operations == {} and empty.incoming_bytes == 0
    assert empty.storage_utilized == (1050, 1050)
    bucket = store.get_metrics(T0, T0, Entity.bucket("b"))
    assert bucket.operations == {"s3:PutObject": 5} and bucket.storage_utilized == (0, 7)
    assert store.get_metrics(T0, T0, Entity.bucket("c")) == MetricsTotals()


# -- the meter --------------------------------------------------------------------------------------

class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_meter_buckets_by_interval_and_batches():
    store = MemoryMetrics()
    calls = []
    real_add = store.add_metrics
    store.add_metrics = lambda ops, storage: (calls.append(len(ops)), real_add(ops, storage))
    clock = Clock(T0 / 1000 + 899.999)
    meter = Meter(store, flush_interval=None, clock=clock)
    meter.count("s3:PutObject", 10, 0)
    meter.count("s3:PutObject", 5, 0)
    clock.t = T0 / 1000 + 900          # the next interval
    meter.count("s3:PutObject", 1, 0)
    meter.count(None, 3, 4)
    meter.record_storage(15, 2)
    assert meter.pending == 4 and calls == []
    assert meter.flush()
    assert calls == [3] and meter.pending == 0
    assert meter.flush() and calls == [3]            # nothing pending: no write
    first = store.get_metrics(T0, T0 + INTERVAL_MS - 1)
    assert first.operations == {"s3:PutObject": 2} and first.incoming_bytes == 15
    second = store.get_metrics(T0 + INTERVAL_MS, T0 + 2 * INTERVAL_MS - 1)
    assert second.operations == {"s3:PutObject": 1}
    assert (second.incoming_bytes, second.outgoing_bytes) == (4, 4)
    assert second.storage_utilized == (0, 15) and second.number_of_objects == (0, 2)


def test_meter_flushes_on_request_count():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, flush_requests=3, clock=Clock(T0 / 1000))
    meter.count("s3:GetObject")
    meter.count("s3:GetObject")
    assert store.get_metrics(T0, T0).operations == {}
    meter.count("s3:GetObject")
    assert store.get_metrics(T0, T0).operations == {"s3:GetObject": 3}


def test_meter_background_thread_flushes():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=0.05, clock=Clock(T0 / 1000))
    done = threading.Event()
    real_add = store.add_metrics

    def add(ops, storage):
        real_add(ops, storage)
        done.set()

    store.add_metrics = add
    meter.count("s3:HeadObject")
    assert done.wait(5)
    assert store.get_metrics(T0, T0).operations == {"s3:HeadObject": 1}
    meter.close()


def _down_store() -> tuple[MemoryMetrics, list[bool]]:
    """A store that raises BackendUnavailable while ``down[0]``."""
    store = MemoryMetrics()
    real_add = store.add_metrics
    down = [True]

    def add(ops, storage):
        if down[0]:
            raise BackendUnavailable("down")
        real_add(ops, storage)

    store.add_metrics = add
    return store, down


def test_meter_keeps_batch_when_store_fails():
    store, fail = _down_store()
    meter = Meter(store, flush_interval=None, clock=Clock(T0 / 1000))
    meter.count("s3:PutObject", 10)
    meter.record_storage(10, 1)
    assert not meter.flush()
    meter.count("s3:PutObject", 5)
    assert meter.pending == 2
    fail[0] = False
    assert meter.flush()
    totals = store.get_metrics(T0, T0)
    assert totals.operations == {"s3:PutObject": 2} and totals.incoming_bytes == 15
    assert totals.storage_utilized == (0, 10)


def test_meter_held_counters_stay_bounded_while_the_store_is_down(caplog):
    store, down = _down_store()
    meter = Meter(store, flush_interval=None, flush_requests=1000, max_counters=100,
                  clock=Clock(T0 / 1000))
    with caplog.at_level("WARNING", logger="s3service.metrics"):
        for i in range(20000):  # a flood to distinct names: 20 failed flushes
            meter.count("s3:GetObject", 0, 1, account="a" * 32, user=None, bucket=f"b{i}")
            meter.record_storage(1, 1, bucket=f"b{i}", account="a" * 32)
    assert len(meter._ops) <= 101 and len(meter._storage) <= 101
    assert meter.folded > 19000
    folds = [r for r in caplog.records if "counted for the service only" in r.getMessage()]
    assert 1 <= len(folds) <= 20  # once per flush, not per request
    down[0] = False
    assert meter.flush()
    service = store.get_metrics(T0, T0)
    assert service.operations == {"s3:GetObject": 20000} and service.outgoing_bytes == 20000
    assert service.storage_utilized == (0, 20000)
    kept = store.get_metrics(T0, T0, Entity.bucket("b0", "a" * 32))
    assert kept.operations == {"s3:GetObject": 1}


def test_meter_queue_stays_bounded_while_the_flusher_is_stuck():
    store = MemoryMetrics()
    stuck, entered = threading.Event(), threading.Event()
    real_add = store.add_metrics

    def add(ops, storage):
        entered.set()
        stuck.wait(10)
        real_add(ops, storage)

    store.add_metrics = add
    meter = Meter(store, flush_interval=60, flush_requests=100, max_counters=50,
                  clock=Clock(T0 / 1000))
    meter.count("s3:GetObject", bucket="first")
    meter._wake.set()
    assert entered.wait(5)
    for i in range(10000):
        meter.count("s3:GetObject", bucket=f"b{i}")
    assert len(meter._events) < 200 and len(meter._ops) <= 51
    stuck.set()
    meter.close()
    assert store.get_metrics(T0, T0).operations == {"s3:GetObject": 10001}


def test_meter_counts_from_many_threads():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, flush_requests=97, clock=Clock(T0 / 1000))

    def work():
        for _ in range(1000):
            meter.count("s3:GetObject", 1, 2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    meter.flush()
    totals = store.get_metrics(T0, T0)
    assert totals.operations == {"s3:GetObject": 8000}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (8000, 16000)


# -- metering a WSGI call ------------------------------------------------------------------------------

def test_counting_input():
    reader = CountingInput(io.BytesIO(b"line1\nline2\nrest"))
    assert reader.read(3) == b"lin"
    assert reader.readline() == b"e1\n"
    assert list(reader) == [b"line2\n", b"rest"]
    assert reader.count == 16
    assert reader.read() == b""
    assert reader.tell() == 16                      # anything else goes to the stream


class Closing:
    def __init__(self, chunks):
        self.chunks, self.closed = chunks, False

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


def test_meter_call_counts_read_and_sent_bytes_on_close():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, clock=Clock(T0 / 1000))
    body = Closing([b"abc", b"", b"defg"])

    def app(environ, start_response):
        assert environ["s3service.metrics"] is meter
        environ["wsgi.input"].read(4)
        write = start_response("200 OK", [("Content-Length", "9")])
        write(b"xy")
        return body

    environ = {"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(b"0123456789")}
    result = metered_call(meter, app, environ, lambda s, h, e=None: (lambda d: None),
                          "s3:PutObject")
    chunks = iter(result)
    assert next(chunks) == b"abc"
    assert meter.pending == 0                        # counted once all is sent...
    result.close()                                   # ... or the response is closed
    assert body.closed and meter.pending == 1
    result.close()
    assert meter.pending == 1
    meter.flush()
    totals = store.get_metrics(T0, T0)
    assert totals.operations == {"s3:PutObject": 1}
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (4, 5)


def test_meter_call_counts_when_the_body_is_exhausted():
    meter = Meter(MemoryMetrics(), flush_interval=None)

    def app(environ, start_response):
        start_response("200 OK", [])
        return iter([b"abc"])

    result = metered_call(meter, app, {"wsgi.input": io.BytesIO()}, lambda s, h, e=None: None,
                          "s3:X")
    assert list(result) == [b"abc"]
    assert meter.pending == 1
    result.close()
    assert meter.pending == 1


def test_meter_call_passes_a_list_through_and_counts_it_at_once():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, clock=Clock(T0 / 1000))
    body = [b"abc", b"de"]

    def app(environ, start_response):
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return body

    result = metered_call(meter, app, {"wsgi.input": io.BytesIO(b"12345678")},
                          lambda s, h, e=None: None, "s3:PutObject")
    assert result is body and meter.pending == 1
    meter.flush()
    totals = store.get_metrics(T0, T0)
    assert (totals.incoming_bytes, totals.outgoing_bytes) == (8, 5)


def test_meter_call_counts_a_failing_app():
    meter = Meter(MemoryMetrics(), flush_interval=None)

    def app(environ, start_response):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        metered_call(meter, app, {"wsgi.input": io.BytesIO()}, None, "s3:GetObject")
    assert meter.pending == 1


def test_meter_call_passes_file_wrapper_through():
    class FileWrapper:
        def __init__(self, filelike, block_size=8192):
            self.filelike = filelike

        def __iter__(self):
            return iter([self.filelike.read()])

    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, clock=Clock(T0 / 1000))

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5000")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"z" * 5000))

    environ = {"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(),
               "wsgi.file_wrapper": FileWrapper}
    result = metered_call(meter, app, environ, lambda s, h, e=None: None, "s3:GetObject")
    assert isinstance(result, FileWrapper)           # untouched: the server may sendfile it
    meter.flush()
    assert store.get_metrics(T0, T0).outgoing_bytes == 5000


def test_meter_keeps_flushing_after_close():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=60, flush_requests=10, clock=Clock(T0 / 1000))
    meter.count("s3:GetObject")
    meter.close()                  # e.g. at exit, while a worker still serves a request
    for _ in range(25):
        meter.count("s3:GetObject")
    assert meter.pending < 10, "counts piled up with no flusher"
    meter.flush()
    assert store.get_metrics(T0, T0 + INTERVAL_MS - 1).operations["s3:GetObject"] == 26


@pytest.mark.parametrize("bad", [2 ** 63, 9 * 10 ** 25, 253402300800000])
def test_time_range_beyond_year_9999_is_refused(bad):
    with pytest.raises(InvalidParameterValue):
        validate_time_range([bad - bad % INTERVAL_MS, bad - bad % INTERVAL_MS + INTERVAL_MS - 1],
                            now_ms=T0)


# -- levels: account, user, bucket ---------------------------------------------------------------

def test_meter_rolls_each_request_up_to_every_level_it_counts_for():
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, clock=Clock(T0 / 1000))
    meter.count("s3:PutObject", 10, 0, account="A", user="alice", bucket="photos")
    meter.count("s3:PutObject", 20, 0, account="A", user=None, bucket="photos")   # root key
    meter.count("s3:GetObject", 0, 7, account="B", user="bob", bucket="docs")
    meter.count("s3:GetObject", 0, 3, bucket="photos")             # anonymous: service only
    meter.count("s3:ListAllMyBuckets", 0, 100, account="A", user="alice")
    meter.record_storage(30, 2, bucket="photos", account="A")
    meter.record_storage(5, 1)                                                     # service only
    meter.flush()

    def get(entity):
        return store.get_metrics(T0, T0 + INTERVAL_MS - 1, entity)

    service = get(S3)
    assert service.operations == {"s3:PutObject": 2, "s3:GetObject": 2, "s3:ListAllMyBuckets": 1}
    assert (service.incoming_bytes, service.outgoing_bytes) == (30, 110)
    assert service.storage_utilized == (0, 35) and service.number_of_objects == (0, 3)
    a = get(Entity.for_account("A"))
    assert a.operations == {"s3:PutObject": 2, "s3:ListAllMyBuckets": 1}
    assert (a.incoming_bytes, a.outgoing_bytes) == (30, 100)
    assert a.storage_utilized == (0, 30) and a.number_of_objects == (0, 2)
    assert get(Entity.user("A", "alice")).operations == {"s3:PutObject": 1,
                                                         "s3:ListAllMyBuckets": 1}
    root = get(Entity.user("A", None))
    assert root == get(Entity(USERS, "A", "A"))
    assert root.operations == {"s3:PutObject": 1} and root.incoming_bytes == 20
    assert get(Entity.user("B", "bob")).outgoing_bytes == 7
    assert get(Entity.user("A", "bob")) == MetricsTotals()     # users are per account
    # without a bucket directory, a bucket counts under its (checked) caller's account
    photos = get(Entity.bucket("photos", "A"))
    assert photos.operations == {"s3:PutObject": 2}
    assert (photos.incoming_bytes, photos.outgoing_bytes) == (30, 0)
    assert photos.storage_utilized == (0, 30)
    assert get(Entity.bucket("photos")) == MetricsTotals()
    assert get(Entity.bucket("docs", "B")).operations == {"s3:GetObject": 1}
    assert get(Entity.for_account("B")).storage_utilized == (0, 0)


def test_meter_memory_stays_within_one_flush_batch_whatever_the_number_of_buckets(tmp_path):
    """100,000 distinct buckets in one interval: the meter never holds more than a batch.

    The store is a real one that keeps nothing in memory (SQL on a SQLite file),
    warmed up first, so that the peak measured is the meter's and a flush's.
    """
    store = SQLBackend(f"sqlite:///{tmp_path}/metrics.db")
    store.add_metrics({(T0, S3, "s3:GetObject"): (0, 0, 0)}, {})          # warm up

    def peak(buckets: int, prefix: str) -> int:
        meter = Meter(store, flush_interval=None, flush_requests=1000, clock=Clock(T0 / 1000))
        names = [f"{prefix}-{i:06d}" for i in range(buckets)]   # made before measuring
        meter.count("s3:GetObject", 0, 10, account="A", user="u", bucket="warm-up")
        meter.flush()
        tracemalloc.start()
        for name in names:
            meter.count("s3:GetObject", 0, 10, account="A", user="u", bucket=name)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        meter.flush()
        return size

    one_batch = peak(1000, "one")
    many = peak(100_000, "many")
    # every request reached the store, at every level
    service = store.get_metrics(T0, T0)
    assert service.operations == {"s3:GetObject": 1000 + 100_000 + 2}
    assert store.get_metrics(T0, T0, Entity.user("A", "u")).outgoing_bytes == 10 * 101_002
    for name in ("many-000000", "many-054321", "many-099999"):
        assert store.get_metrics(T0, T0, Entity.bucket(name, "A")).operations == \
            {"s3:GetObject": 1}
    # The peak is that of one flush batch (and its roll-up), not 100 times it.
    assert many < 1.5 * one_batch, (many, one_batch)


def test_meter_removes_counters_past_its_retention():
    store = MemoryMetrics()
    clock = Clock(T0 / 1000)
    meter = Meter(store, flush_interval=None, retention_days=1, clock=clock)
    meter.count("s3:GetObject")
    meter.record_storage(5, 1)
    assert meter.flush()
    clock.t += 86400 + INTERVAL_MS / 1000           # a day and an interval later
    meter.count("s3:GetObject")
    assert meter.flush()
    assert store.get_metrics(T0, T0).operations == {}
    assert store.get_metrics(T0, clock.t * 1000).storage_utilized == (0, 5)
    assert store.get_metrics(T0, clock.t * 1000).operations == {"s3:GetObject": 1}
    forever = MemoryMetrics()
    keeper = Meter(forever, flush_interval=None, retention_days=None, clock=Clock(T0 / 1000))
    keeper.count("s3:GetObject")
    keeper.flush()
    keeper.clock.t += 1000 * 86400
    keeper.flush()
    assert forever.get_metrics(T0, T0).operations == {"s3:GetObject": 1}
    with pytest.raises(ValueError):
        Meter(store, retention_days=0)


def test_meter_asks_who_owns_a_batchs_buckets_once_per_flush():
    directory = MemoryBackend()
    directory.add_account("A")
    directory.add_account("B")
    directory.add_bucket("A", "mine")
    directory.add_bucket("B", "theirs")
    asked = []
    real = directory.bucket_owners
    directory.bucket_owners = lambda names: (asked.append(set(names)), real(names))[1]
    store = MemoryMetrics()
    meter = Meter(store, flush_interval=None, buckets=directory, clock=Clock(T0 / 1000))
    for bucket in ("mine", "theirs", "made-up", "mine"):
        meter.count("s3:GetObject", 0, 1, account="A", bucket=bucket)
    meter.count("s3:GetObject", 0, 1, bucket="theirs")                   # anonymous
    assert meter.flush()
    assert asked == [{"mine", "theirs", "made-up"}]
    assert store.get_metrics(T0, T0, Entity.bucket("mine", "A")).operations == \
        {"s3:GetObject": 2}
    for owner in ("A", "B", ""):
        for name in ("theirs", "made-up"):
            assert store.get_metrics(T0, T0, Entity.bucket(name, owner)).operations == {}
    assert store.get_metrics(T0, T0).operations == {"s3:GetObject": 5}
