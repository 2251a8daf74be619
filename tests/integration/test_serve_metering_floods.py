"""``s3service serve --metrics`` under floods: what a request may add to the metrics tables.

Only a caller whose signature was checked, to a bucket that exists, adds a
bucket row, and that row is the bucket's owner's: a flood of anonymous (or
signed) requests to made-up names adds none, and an account re-creating a name
another deleted reads nothing of the other's tenure.
"""
from __future__ import annotations

import http.client

import boto3
from botocore.config import Config
from sqlalchemy import create_engine, text

from tests.helpers.cliserver import start_server  # noqa: F401 (a fixture)
from tests.integration.test_serve_metrics import cli_json, list_metrics


def client(server, key: dict):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=key["access_key"],
                        aws_secret_access_key=key["secret_key"],
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def account_with_key(db: str, name: str) -> tuple[str, dict]:
    account = cli_json(db, "account", "create", "--name", name)["account_id"]
    return account, cli_json(db, "key", "create", account)


def bucket_rows(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM s3service_utilization "
                                     "WHERE level = 'buckets'")).scalar()
    finally:
        engine.dispose()


def test_requests_to_made_up_buckets_add_no_bucket_rows(tmp_path, start_server):
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    _, key = account_with_key(db, "tenant")
    operator, operator_key = account_with_key(db, "operator")
    server = start_server(db, "--workers", "1", "--metrics-admin", operator)
    server.wait_ready()
    host, port = server.endpoint.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    for i in range(300):                         # anonymous, to 200-character names
        conn.request("GET", f"/{'x' * 196}{i:04d}/key")
        response = conn.getresponse()
        response.read()
        assert response.status == 404            # NoSuchBucket, as S3 answers anyone
    conn.close()
    s3 = client(server, key)
    for i in range(20):                          # signed, to names nobody has
        try:
            s3.head_bucket(Bucket=f"made-up-{i}")
        except s3.exceptions.ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.create_bucket(Bucket="real")
    s3.head_bucket(Bucket="real")
    operator_pair = (operator_key["access_key"], operator_key["secret_key"])
    status, [fleet] = list_metrics(server.endpoint, operator_pair, "service", ["s3"])
    assert status == 200 and sum(fleet["operations"].values()) >= 322
    status, [real] = list_metrics(server.endpoint, operator_pair, "buckets", ["real"])
    assert status == 200 and real["operations"]["s3:HeadBucket"] == 1
    assert bucket_rows(db) == 2                  # real's CreateBucket and HeadBucket


def test_a_re_created_name_does_not_show_the_previous_owners_counts(tmp_path, start_server):
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    _, a_key = account_with_key(db, "a")
    _, b_key = account_with_key(db, "b")
    server = start_server(db, "--workers", "1", "--metrics")
    server.wait_ready()
    a_s3, b_s3 = client(server, a_key), client(server, b_key)
    a_s3.create_bucket(Bucket="handover")
    for _ in range(3):
        a_s3.list_objects_v2(Bucket="handover")
    a_pair = (a_key["access_key"], a_key["secret_key"])
    status, [mine] = list_metrics(server.endpoint, a_pair, "buckets", ["handover"])
    assert status == 200 and mine["operations"]["s3:ListBucket"] == 3
    assert mine["outgoingBytes"] > 0
    a_s3.delete_bucket(Bucket="handover")
    b_s3.create_bucket(Bucket="handover")
    b_pair = (b_key["access_key"], b_key["secret_key"])
    status, [theirs] = list_metrics(server.endpoint, b_pair, "buckets", ["handover"])
    assert status == 200
    assert {k: v for k, v in theirs["operations"].items() if v} == {"s3:CreateBucket": 1}
    assert (theirs["incomingBytes"], theirs["outgoingBytes"]) == (0, 0)
    assert theirs["storageUtilized"] == [0, 0]
    assert list_metrics(server.endpoint, a_pair, "buckets", ["handover"])[0] == 403
