"""What a policy check adds to a signed ListBuckets, in-process.

The middleware with :class:`~s3service.policies.PolicyAuthorizer` (on the
store's IAM policies, the default since 0.2) against the same middleware with
``AllowAuthenticated`` (every authenticated caller may), both answering the same
SigV4-signed ``GET /`` of an IAM user, over the same store holding 10
buckets.  The user's policies: a managed policy attached to a group the user
is in (ListAllMyBuckets, s3:* on buckets, a Deny on one bucket) and an inline
one (a Deny of iam:*): four statements in two documents.  Also measured, the
same with a ``NotIpAddress`` condition added, which decisions cannot be
cached for.

Stores: MemoryBackend and SQLBackend on a new SQLite file (its default 5 s
credential cache, which also bounds how stale its policy version may be).
No server: the app is called directly, in one process, one thread.  Rounds
alternate the two apps; the figure is the median of the per-round ratios.
Target: the policy check adds at most 5 %.

Run: ``python benchmarks/policy.py`` (``--rounds``, ``--calls``).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True

from s3service import AllowAuthenticated, S3ServiceMiddleware  # noqa: E402
from s3service.policies import PolicyAuthorizer  # noqa: E402

ACCOUNT = "a" * 64
KEY, SECRET = "AKIABENCHUSER", "bench-secret"
REGION = "us-east-1"
TARGET = 1.05

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    {"Sid": "Buckets", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"},
    {"Sid": "Keep", "Effect": "Deny", "Action": "s3:DeleteBucket",
     "Resource": "arn:aws:s3:::bucket-0"}]}
INLINE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}
CONDITION = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Office", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]}}}]}


def seed(store, conditional: bool) -> None:
    store.add_account(ACCOUNT, "bench")
    store.add_key(ACCOUNT, KEY, SECRET, user="alice")
    for i in range(10):
        store.add_bucket(ACCOUNT, f"bucket-{i}")
    store.put_policy(ACCOUNT, "buckets", json.dumps(POLICY))
    store.add_group(ACCOUNT, "staff")
    store.add_user_to_group(ACCOUNT, "staff", "alice")
    store.attach_policy(ACCOUNT, "buckets", group="staff")
    store.put_user_policy(ACCOUNT, "alice", "no-iam", json.dumps(INLINE))
    if conditional:
        store.put_user_policy(ACCOUNT, "alice", "office", json.dumps(CONDITION))


def signed_environ() -> dict:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url="http://localhost/", data=b"")
    botocore.auth.S3SigV4Auth(Credentials(KEY, SECRET), "s3", REGION).add_auth(request)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}
    for name, value in request.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def gateway(environ, start_response):
    start_response("404 Not Found", [])
    return [b""]


def call(app, environ: dict) -> bytes:
    status = []
    body = b"".join(app({**environ, "wsgi.input": io.BytesIO(b"")},
                        lambda s, h, exc_info=None: status.append(s)))
    if not status[0].startswith("200"):
        raise SystemExit(f"unexpected answer {status[0]}: {body[:200]!r}")
    return body


def timed(app, environ: dict, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call(app, environ)
    return (time.perf_counter() - start) / calls


def measure(make_store, label: str, conditional: bool, rounds: int, calls: int) -> float:
    store = make_store()
    seed(store, conditional)
    plain = S3ServiceMiddleware(gateway, credentials=store, buckets=store, region=REGION,
                                authorizer=AllowAuthenticated())
    policed = S3ServiceMiddleware(gateway, credentials=store, buckets=store, region=REGION,
                                  authorizer=PolicyAuthorizer(store))
    environ = signed_environ()
    assert call(plain, environ) == call(policed, environ)      # the same listing
    denied = PolicyAuthorizer(store)
    from s3service.identity import Identity
    user = Identity(ACCOUNT, "bench", KEY, user="alice")
    assert not denied.is_allowed(user, "s3:DeleteBucket", "arn:aws:s3:::bucket-0")
    for app in (plain, policed):                               # warm caches
        timed(app, environ, calls // 10 or 1)
    ratios, plain_times, policed_times = [], [], []
    for i in range(rounds):
        order = (plain, policed) if i % 2 == 0 else (policed, plain)
        results = {id(app): timed(app, environ, calls) for app in order}
        plain_times.append(results[id(plain)])
        policed_times.append(results[id(policed)])
        ratios.append(results[id(policed)] / results[id(plain)])
    ratio = statistics.median(ratios)
    print(f"{label:<44} allow-all {statistics.median(plain_times) * 1e6:7.1f} µs   "
          f"policies {statistics.median(policed_times) * 1e6:7.1f} µs   "
          f"ratio {ratio:.3f}  {'PASS' if ratio <= TARGET else 'FAIL'} (<= {TARGET})")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    from s3service.backends.memory import MemoryBackend
    from s3service.backends.sql import SQLBackend

    tmp = tempfile.mkdtemp(prefix="s3service-policy-bench-")
    made = []

    def sqlite():
        store = SQLBackend(f"sqlite:///{os.path.join(tmp, f'bench-{len(made)}.db')}")
        made.append(store)
        return store

    print(f"signed (SigV4) ListBuckets of an IAM user, 10 buckets, in-process, one thread; "
          f"{args.rounds} rounds of {args.calls} calls each")
    results = [measure(MemoryBackend, "MemoryBackend, no condition (cached)", False,
                       args.rounds, args.calls),
               measure(sqlite, "SQLBackend sqlite, no condition (cached)", False,
                       args.rounds, args.calls),
               measure(MemoryBackend, "MemoryBackend, NotIpAddress condition", True,
                       args.rounds, args.calls),
               measure(sqlite, "SQLBackend sqlite, NotIpAddress condition", True,
                       args.rounds, args.calls)]
    for store in made:
        store.close()
    return 0 if all(r <= TARGET for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
