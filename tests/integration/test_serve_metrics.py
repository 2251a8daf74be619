"""``s3service serve --metrics-admin ACCOUNT``: tenants read their own metrics, the operator the fleet's."""
from __future__ import annotations

import http.client
import json
import time

import boto3
from botocore.config import Config

from tests.helpers.cliserver import run_cli, start_server  # noqa: F401 (a fixture)
from tests.helpers.signing import signed_headers
from s3service.metrics import INTERVAL_MS, interval_start


def cli_json(db: str, *args: str) -> dict:
    result = run_cli("--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def list_metrics(endpoint: str, key: tuple[str, str], level: str, names: list[str]
                 ) -> tuple[int, object]:
    start = interval_start(int(time.time() * 1000)) - INTERVAL_MS
    body = json.dumps({"timeRange": [start, start + 3 * INTERVAL_MS - 1], level: names}).encode()
    url = f"{endpoint}/?Action=ListMetrics&Version=20160815"
    headers = dict(signed_headers("POST", url, *key, version="v4-generic", body=body,
                                  headers={"Content-Type": "application/json"}))
    host, port = endpoint.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/?Action=ListMetrics&Version=20160815", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_serve_with_a_metrics_admin(tmp_path, start_server):
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    tenant = cli_json(db, "account", "create", "--name", "tenant")["account_id"]
    tenant_key = cli_json(db, "key", "create", tenant)
    operator = cli_json(db, "account", "create", "--name", "operator")["account_id"]
    operator_key = cli_json(db, "key", "create", operator)
    server = start_server(db, "--workers", "1", "--metrics-admin", operator)
    server.wait_ready()

    s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                      aws_access_key_id=tenant_key["access_key"],
                      aws_secret_access_key=tenant_key["secret_key"],
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="metered-bucket")
    s3.head_bucket(Bucket="metered-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["metered-bucket"]

    tenant_pair = (tenant_key["access_key"], tenant_key["secret_key"])
    operator_pair = (operator_key["access_key"], operator_key["secret_key"])
    status, answer = list_metrics(server.endpoint, tenant_pair, "accounts", [tenant])
    assert status == 200
    used = {k: v for k, v in answer[0]["operations"].items() if v}
    assert used == {"s3:CreateBucket": 1, "s3:HeadBucket": 1, "s3:ListAllMyBuckets": 1}
    status, answer = list_metrics(server.endpoint, tenant_pair, "buckets", ["metered-bucket"])
    assert status == 200 and answer[0]["operations"]["s3:HeadBucket"] == 1
    assert list_metrics(server.endpoint, tenant_pair, "service", ["s3"]) == \
        (403, {"code": "AccessDenied", "message": "Access Denied"})
    assert list_metrics(server.endpoint, tenant_pair, "accounts", [operator])[0] == 403
    status, answer = list_metrics(server.endpoint, operator_pair, "service", ["s3"])
    assert status == 200 and answer[0]["operations"]["s3:CreateBucket"] == 1
