"""Under stock gunicorn, the middleware's default authorizer is the store's IAM policies:
an IAM user without a policy may do nothing, the account's root key everything."""
from __future__ import annotations

import json

import pytest

from s3service.backends import SQLBackend
from s3service.testing import sandbox
from tests.helpers.botoclient import error_of, status_of

from .conftest import boto3_client, start_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample")
    url = f"sqlite:///{tmp / 'sample.db'}"
    store = SQLBackend(url)
    world = sandbox(store=store)
    store.close()
    for server in start_server(tmp, "sample", app="sample_app:app", S3SERVICE_SAMPLE_DB=url):
        yield server, world, url


def client(server, keys):
    return boto3_client(server, keys.access_key, keys.secret_key)


def test_an_iam_user_without_a_policy_is_refused_and_the_root_key_allowed(served):
    server, world, url = served
    root, user = client(server, world.root), client(server, world.user)
    assert status_of(root.create_bucket(Bucket="photos")) == 200
    assert status_of(root.put_object(Bucket="photos", Key="cat", Body=b"meow")) == 200
    assert [b["Name"] for b in root.list_buckets()["Buckets"]] == ["photos"]
    assert error_of(user.put_object, Bucket="photos", Key="dog", Body=b"woof") == \
        (403, "AccessDenied")
    assert error_of(user.create_bucket, Bucket="videos") == (403, "AccessDenied")
    assert error_of(user.list_buckets) == (403, "AccessDenied")
    # Given a policy, the same user may do what it allows, in every worker at once.
    store = SQLBackend(url)
    store.put_user_policy(world.account_id, world.user_name, "put", json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": "arn:aws:s3:::photos/*"}]}))
    store.close()
    for _ in range(4):
        assert status_of(user.put_object(Bucket="photos", Key="dog", Body=b"woof")) == 200
    assert error_of(user.list_buckets) == (403, "AccessDenied")
