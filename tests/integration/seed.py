"""The accounts, keys and buckets every integration server is seeded with.

The same data is written to the JSON file the gunicorn workers read
(``S3SERVICE_TEST_SEED``) and used by the tests as the expected answers.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc

ACCOUNT_A = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
ACCOUNT_B = "be2fe74dc7e8125d8f8cae89d90e6d59e1a69d55e949b00d9fd1a49b9f0f1a9c"
# Every character XML needs escaped, quotes of both kinds and non-ASCII text.
DISPLAY_A = "Ana & <Co> \"Ünïcødé\" 'q' 日本語 ✓"
DISPLAY_B = "bob"

ROOT_KEY = "AKIAINTEGROOTA000001"
ROOT_SECRET = "rootSecretA/0aBcDeFgHiJkLmNoPqRsTuVwXyZ+12345"
USER_KEY = "AKIAINTEGUSERALICE01"
USER_SECRET = "aliceSecret/9zYxWvUtSrQpOnMlKjIhGfEdCbA+98765"
USER_NAME = "alice"
INACTIVE_KEY = "AKIAINTEGINACTIVE001"
INACTIVE_SECRET = "inactiveSecret/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
SESSION_KEY = "ASIAINTEGSESSION0001"
SESSION_SECRET = "sessionSecret/QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
SESSION_TOKEN = "FwoGZXIvYXdzEBYaDIntegrationSessionToken+/=0123456789abcdef"
EXPIRED_SESSION_KEY = "ASIAINTEGEXPIRED0001"
EXPIRED_SESSION_SECRET = "expiredSecret/EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"
EXPIRED_SESSION_TOKEN = "FwoGZXIvYXdzEBYaDExpiredSessionToken+/=fedcba9876543210"
B_KEY = "AKIAINTEGBOB00000001"
B_SECRET = "bobSecret/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
UNKNOWN_KEY = "AKIAINTEGNOSUCHKEY01"
# An account with more buckets than the middleware renders in one body chunk,
# so its listing is streamed (no Content-Length).
ACCOUNT_BULK = "0c0ffee0000000000000000000000000000000000000000000000000000b01c"
DISPLAY_BULK = "bulk"
BULK_KEY = "AKIAINTEGBULK0000001"
BULK_SECRET = "bulkSecret/MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"
BULK_COUNT = 1234

REGION = "us-east-1"
SERVICE_HOST = "s3.localtest"
EXPECTED_SKEW_MS = "900000"

# Bucket name -> (creation time as seeded, region).  One time is given with a
# non-UTC offset: it must be listed converted to UTC.
BUCKETS_A = {
    "alpha-logs": (datetime(2019, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "us-east-1"),
    "beta.backup": (datetime(2020, 6, 30, 23, 59, 59, tzinfo=timezone(timedelta(hours=2))),
                    "us-east-1"),
    "gamma-photos": (datetime(2021, 12, 31, 0, 0, 0, 1000, tzinfo=UTC), "eu-west-1"),
    "photos": (datetime(2022, 2, 22, 22, 22, 22, 222000, tzinfo=UTC), "us-east-1"),
    "zeta-1": (datetime(2023, 7, 1, 12, 0, 0, tzinfo=UTC), "eu-west-1"),
    "zeta-2": (datetime(2023, 7, 2, 12, 0, 0, tzinfo=UTC), "us-east-1"),
    "zz-last": (datetime(2024, 2, 29, 6, 30, 0, 999000, tzinfo=UTC), "us-east-1"),
}
BUCKETS_B = {
    "bob-only": (datetime(2018, 5, 5, 5, 5, 5, tzinfo=UTC), "us-east-1"),
    "bob-second": (datetime(2018, 5, 6, 5, 5, 5, tzinfo=UTC), "us-west-2"),
}
BULK_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
NAMES_BULK = [f"bulk-{i:05d}" for i in range(BULK_COUNT)]
NAMES_A = sorted(BUCKETS_A)
NAMES_B = sorted(BUCKETS_B)


def created_utc(name: str) -> datetime:
    """The creation time of a seeded bucket, in UTC, as ListBuckets must show it."""
    if name in BUCKETS_A or name in BUCKETS_B:
        when = (BUCKETS_A.get(name) or BUCKETS_B[name])[0]
    else:
        when = BULK_EPOCH + timedelta(minutes=int(name.rsplit("-", 1)[1]))
    return when.astimezone(UTC)


def seed_document() -> dict:
    far = datetime(2099, 1, 1, tzinfo=UTC).isoformat()
    past = datetime(2001, 1, 1, tzinfo=UTC).isoformat()
    return {
        "accounts": [
            {"id": ACCOUNT_A, "display_name": DISPLAY_A},
            {"id": ACCOUNT_B, "display_name": DISPLAY_B},
            {"id": ACCOUNT_BULK, "display_name": DISPLAY_BULK},
        ],
        "keys": [
            {"account": ACCOUNT_A, "access_key": ROOT_KEY, "secret_key": ROOT_SECRET},
            {"account": ACCOUNT_A, "access_key": USER_KEY, "secret_key": USER_SECRET,
             "user": USER_NAME},
            {"account": ACCOUNT_A, "access_key": INACTIVE_KEY, "secret_key": INACTIVE_SECRET,
             "active": False},
            {"account": ACCOUNT_A, "access_key": SESSION_KEY, "secret_key": SESSION_SECRET,
             "user": USER_NAME, "session_token": SESSION_TOKEN, "expires": far},
            {"account": ACCOUNT_A, "access_key": EXPIRED_SESSION_KEY,
             "secret_key": EXPIRED_SESSION_SECRET, "session_token": EXPIRED_SESSION_TOKEN,
             "expires": past},
            {"account": ACCOUNT_B, "access_key": B_KEY, "secret_key": B_SECRET},
            {"account": ACCOUNT_BULK, "access_key": BULK_KEY, "secret_key": BULK_SECRET},
        ],
        "buckets": (
            [{"account": ACCOUNT_A, "name": n, "created": c.isoformat(), "region": r}
             for n, (c, r) in BUCKETS_A.items()]
            + [{"account": ACCOUNT_B, "name": n, "created": c.isoformat(), "region": r}
               for n, (c, r) in BUCKETS_B.items()]
            + [{"account": ACCOUNT_BULK, "name": n, "created": created_utc(n).isoformat()}
               for n in NAMES_BULK]
        ),
    }


def write_seed(path: Path) -> Path:
    path.write_text(json.dumps(seed_document(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path
