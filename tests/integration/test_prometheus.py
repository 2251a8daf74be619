"""``serve --prometheus-port`` and ``s3service metrics``, against a real 2-worker server.

One server (SQLite, ``--workers 2 --metrics --prometheus-port``) answers a
known mix of boto3 requests; a scrape (parsed by ``prometheus_client``'s own
OpenMetrics parser) must then report exactly that mix, and ``s3service
metrics`` (in-process) exactly the counts the server metered -- as a table,
and as a chart.  ``/readyz`` follows a PostgreSQL stopped and started again.
"""
from __future__ import annotations

import http.client
import json
import re
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3service.auth.presign import presign
from tests.helpers.cliserver import Server, free_port, run_cli

pytest.importorskip("prometheus_client")
from prometheus_client.openmetrics.parser import text_string_to_metric_families  # noqa: E402

REGION = "eu-west-1"
SETTLE = 20.0           # seconds: the workers publish each second, meter every 10


def cli_json(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def get(port: int, path: str, accept: str | None = None) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept": accept} if accept else {})
        response = conn.getresponse()
        return (response.status, response.getheader("Content-Type", ""),
                response.read().decode())
    finally:
        conn.close()


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    """Every sample of the scrape, by sample name, keyed by its sorted labels."""
    status, kind, text = get(port, "/metrics", "application/openmetrics-text; version=1.0.0")
    assert status == 200 and kind.startswith("application/openmetrics-text"), (status, kind)
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


def client(endpoint: str, key: dict, secret: str | None = None):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=key["access_key"],
                        aws_secret_access_key=secret or key["secret_key"],
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


class Wire:
    """The bytes of each request body sent and response body received (botocore's events)."""

    def __init__(self, s3) -> None:
        self.sent = self.received = 0
        s3.meta.events.register("before-send.s3", self.before_send)
        s3.meta.events.register("after-call.s3", self.after_call)

    def before_send(self, request, **_):
        body = request.body or b""
        self.sent += len(body if isinstance(body, bytes) else body.encode())

    def after_call(self, http_response, **_):
        self.received += len(http_response.content)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The server, after the mix: (server, metrics port, db, account, key, expected)."""
    tmp = tmp_path_factory.mktemp("prometheus")
    db = f"sqlite:///{tmp / 'serve.db'}"
    account = cli_json(db, "account", "create", "--name", "tenant")["account_id"]
    key = cli_json(db, "key", "create", account)
    metrics_port = free_port()
    server = Server(tmp, db, "--workers", "2", "--region", REGION, "--metrics",
                    "--prometheus-port", str(metrics_port))
    try:
        server.wait_ready()
        wait_answering(metrics_port)
        s3 = client(server.endpoint, key)
        wire = Wire(s3)
        for name in ("mix-one", "mix-two"):
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.head_bucket(Bucket="mix-one")
        for _ in range(3):
            s3.list_buckets()
        with pytest.raises(ClientError) as missing:
            s3.head_bucket(Bucket="no-such-bucket-here")
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        with pytest.raises(ClientError) as forged:
            client(server.endpoint, key, secret="not-the-secret").list_buckets()
        assert forged.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        listings, listed_bytes = spread_over_workers(server, key)
        expected = {
            "requests": {("s3:CreateBucket", "200"): 2, ("s3:HeadBucket", "200"): 1,
                         ("s3:HeadBucket", "404"): 1,
                         ("s3:ListAllMyBuckets", "200"): 3 + listings,
                         ("s3:ListAllMyBuckets", "403"): 1},
            "account": {"requests": 7 + listings, "received": wire.sent,
                        "sent": wire.received + listed_bytes},
            "operations": {"s3:CreateBucket": 2, "s3:HeadBucket": 2,
                           "s3:ListAllMyBuckets": 3 + listings},
            "listings": 3 + listings,
        }
        assert expected["account"]["received"] > 0 and expected["account"]["sent"] > 0
        yield server, metrics_port, db, account, key, expected
    finally:
        server.stop()


def worker_pids(server: Server) -> set[str]:
    """The processes that logged a request line."""
    return set(re.findall(r"\[(\d+)\] \[INFO\] s3service: [0-9A-F]{16} ",
                          server.err.read_text()))


def spread_over_workers(server: Server, key: dict) -> tuple[int, int]:
    """ListBuckets on new connections, a few at once, until both workers answered one.

    (boto3 keeps one connection: one worker.)  Returns how many were sent
    and the bytes of their answers.
    """
    url = presign("GET", server.endpoint + "/", key["access_key"], key["secret_key"],
                  region=REGION)
    target = url[len(server.endpoint):]
    sizes: list[int] = []

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("GET", target, headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, body
            sizes.append(len(body))
        finally:
            conn.close()

    for _ in range(20):
        threads = [threading.Thread(target=one) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(0.7)                     # (the log is written every half second)
        if len(worker_pids(server)) == 2:
            break
    assert len(worker_pids(server)) == 2, "one worker answered everything"
    return len(sizes), sum(sizes)


def wait_answering(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(port, "/healthz")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def requests_seen(samples: dict) -> dict[tuple[str, str], float]:
    return {(dict(labels)["operation"], dict(labels)["status"]): value
            for labels, value in samples.get("s3service_requests_total", {}).items()}


def test_a_scrape_reports_exactly_the_mix_the_workers_answered(served):
    server, port, _, account, _, expected = served
    deadline = time.monotonic() + SETTLE
    while True:
        samples = scrape(port)
        if requests_seen(samples) == expected["requests"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert requests_seen(samples) == expected["requests"]
    by_account = (("account", account),)
    assert samples["s3service_account_requests_total"] == {
        by_account: expected["account"]["requests"]}
    assert samples["s3service_account_received_bytes_total"] == {
        by_account: expected["account"]["received"]}
    assert samples["s3service_account_sent_bytes_total"] == {
        by_account: expected["account"]["sent"]}
    assert samples["s3service_auth_failures_total"] == {
        (("code", "SignatureDoesNotMatch"),): 1}
    counts = samples["s3service_request_duration_seconds_count"]
    assert counts == {(("operation", "s3:CreateBucket"),): 2,
                      (("operation", "s3:HeadBucket"),): 2,
                      (("operation", "s3:ListAllMyBuckets"),): expected["listings"] + 1}
    assert samples["s3service_requests_in_flight"] == {(): 0}
    listings = expected["listings"]
    assert samples["s3service_listing_buckets_count"] == {(): listings}
    assert samples["s3service_listing_buckets_sum"] == {(): listings * 2}   # two buckets each
    # The store's calls to its database: each ListBuckets reads at least its account's
    # bucket version, and so does the bucket quota's check before each creation; each
    # creation is a transaction (the meter's flushes and the credential look-ups add more).
    for name in ("s3service_store_calls_total", "s3service_store_call_duration_seconds_count"):
        calls = samples[name]
        assert calls[(("call", "read"),)] >= listings + 2
        assert calls[(("call", "transaction"),)] >= 2
    assert not any(samples.get("s3service_store_errors_total", {}).values())
    assert get(port, "/healthz")[0] == 200 and get(port, "/readyz")[:1] == (200,)
    assert get(port, "/other")[0] == 404


def test_the_request_log_line_names_target_bucket_and_duration(served):
    server = served[0]
    log = server.err.read_text()
    assert re.search(r" HEAD /no-such-bucket-here no-such-bucket-here 404 \d+\.\d\dms "
                     r"NoSuchBucket AKIA\w+$", log, re.MULTILINE), log[-3000:]
    assert re.search(r" GET / - 403 \d+\.\d\dms SignatureDoesNotMatch AKIA\w+$", log,
                     re.MULTILINE), log[-3000:]
    presigned = re.findall(r" GET /\?\S*X-Amz-Signature=(\S*?)(?:&\S*)? - 200 ", log)
    assert presigned and set(presigned) == {"<redacted>"}


def expected_table(expected: dict) -> list[str]:
    return [f"{op}  {count}" for op, count in sorted(expected["operations"].items())] + \
        [f"total  {expected['account']['requests']}"]


def rows_of(text: str) -> list[str]:
    return [" ".join(line.split()[:1]) + "  " + " ".join(line.split()[1:])
            for line in text.splitlines() if line.startswith(("s3:", "total"))]


def test_metrics_since_an_hour_prints_exactly_what_was_metered(served):
    server, _, _, account, key, expected = served
    env = {"AWS_ACCESS_KEY_ID": key["access_key"], "AWS_SECRET_ACCESS_KEY": key["secret_key"],
           "AWS_REGION": REGION}
    argv = ("metrics", "--level", "accounts", account, "--since", "1h",
            "--endpoint-url", server.endpoint)
    deadline = time.monotonic() + SETTLE       # (the other worker writes its counts every 10 s)
    while True:
        result = run_cli(*argv, env=env)
        assert result.returncode == 0, result.stderr
        if rows_of(result.stdout) == expected_table(expected) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows_of(result.stdout) == expected_table(expected), result.stdout
    assert (f"incoming bytes: {expected['account']['received']}  "
            f"outgoing bytes: {expected['account']['sent']}") in result.stdout

    answer = json.loads(run_cli(*argv, "--json", env=env).stdout)
    assert answer[0]["accountId"] == account
    assert {k: v for k, v in answer[0]["operations"].items() if v} == expected["operations"]

    chart = run_cli(*argv, "--chart", env=env)
    assert chart.returncode == 0, chart.stderr
    rows = [line for line in chart.stdout.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d ",
                                                                     line)]
    assert 4 <= len(rows) <= 5                  # the intervals of the last hour, this one too
    total_requests = total_bytes = 0
    for row in rows:
        match = re.fullmatch(r"(\S+ \S+)  (#*|\u2588*) *(\d+)  (#*|\u2588*) *(\d+) "
                             r"\((\d+) in, (\d+) out\)", row)
        assert match, row
        requests, size = int(match.group(3)), int(match.group(5))
        assert size == int(match.group(6)) + int(match.group(7))
        assert (len(match.group(2)) > 0) == (requests > 0)
        total_requests += requests
        total_bytes += size
    assert total_requests == expected["account"]["requests"]
    assert total_bytes == expected["account"]["received"] + expected["account"]["sent"]


def test_metrics_reads_the_store_once_the_server_stopped(served):
    server, _, db, account, _, expected = served
    server.stop()                                # (each worker writes its counts as it stops)
    result = run_cli("--db", db, "metrics", "--level", "accounts", account)
    assert result.returncode == 0, result.stderr
    assert rows_of(result.stdout) == expected_table(expected), result.stdout


def test_readyz_follows_postgresql(tmp_path):
    pg = pytest.importorskip("tests.helpers.pg")
    with pg.private_server() as database:
        url = database.create_database()
        port = free_port()
        server = Server(tmp_path, url, "--workers", "2", "--backend-timeout", "2",
                        "--prometheus-port", str(port))
        try:
            server.wait_ready()
            wait_answering(port)
            assert get(port, "/readyz")[:1] == (200,)
            database.stop()
            started = time.monotonic()
            status, _, text = get(port, "/readyz")
            assert status == 503 and text.startswith("not ready: "), (status, text)
            assert time.monotonic() - started < 2 + 1.5
            assert "\n" not in text.strip() and "password" not in text
            assert get(port, "/healthz")[0] == 200
            database.start()
            deadline = time.monotonic() + 20
            while get(port, "/readyz")[0] != 200:
                assert time.monotonic() < deadline, "never ready again"
                time.sleep(0.2)
        finally:
            server.stop()
