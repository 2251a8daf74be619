"""The IAM layer in-process (real boto3 clients, their requests handed to the WSGI app) and
the query protocol's pure parts; over HTTP see tests/integration/test_iam_api.py."""
from __future__ import annotations

from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from webtest import TestApp

from s3service.backends.memory import MemoryBackend
from s3service.iam import IAMLayer, signed_for
from s3service.iam.query import member_list, page, render

ACCOUNT = "acct"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def passed_on(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"passed on"]


def client(app, service: str, region: str, key=("AKROOT", "secret")):
    test_app = TestApp(app)
    made = boto3.session.Session().client(
        service, endpoint_url="http://s3.example.com", region_name=region,
        aws_access_key_id=key[0], aws_secret_access_key=key[1],
        config=Config(retries={"max_attempts": 1}))

    def send(request, **_):
        parts = urlsplit(request.url)
        headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                   for name, value in request.headers.items()}
        headers["Host"] = parts.netloc
        body = request.body or b""
        response = test_app.request(parts.path or "/", method=request.method, headers=headers,
                                    body=body.encode() if isinstance(body, str) else body,
                                    expect_errors=True)
        return AWSResponse(request.url, response.status_int, dict(response.headerlist),
                           _Raw(response.body))

    made.meta.events.register(f"before-send.{service}", send)
    return made


@pytest.fixture
def app():
    store = MemoryBackend()
    store.add_account(ACCOUNT, "tenant")
    store.add_key(ACCOUNT, "AKROOT", "secret")
    return IAMLayer(passed_on, store, region="eu-west-1")


def test_signed_for_the_endpoints_region_or_where_sdks_sign_iam(app):
    assert client(app, "iam", "eu-west-1").create_user(UserName="a")["User"]["UserName"] == "a"
    assert [u["UserName"] for u in client(app, "iam", "us-east-1").list_users()["Users"]] == \
        ["a"]
    with pytest.raises(ClientError) as caught:
        client(app, "sts", "ap-south-1").get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "AuthorizationHeaderMalformed"


def test_other_requests_pass_on_untouched(app):
    test_app = TestApp(app)
    assert test_app.get("/").body == b"passed on"
    assert test_app.post("/", "Action=ListUsers").body == b"passed on"     # not signed for iam
    s3_signed = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_AUTHORIZATION":
                 "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request, "
                 "SignedHeaders=host, Signature=00"}
    assert signed_for(s3_signed) is None
    assert signed_for({**s3_signed, "HTTP_AUTHORIZATION": s3_signed["HTTP_AUTHORIZATION"]
                       .replace("/s3/", "/iam/")}) == "iam"
    assert signed_for({**s3_signed, "PATH_INFO": "/bucket", "HTTP_AUTHORIZATION":
                       s3_signed["HTTP_AUTHORIZATION"].replace("/s3/", "/iam/")}) is None


def test_unknown_and_missing_actions_are_iam_errors(app):
    iam = client(app, "iam", "eu-west-1")
    with pytest.raises(ClientError) as caught:
        iam.get_account_summary()                     # an IAM action we do not have
    assert caught.value.response["Error"]["Code"] == "InvalidAction"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as caught:
        client(app, "iam", "eu-west-1", ("AKNOSUCHKEY", "secret")).list_users()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_the_query_protocols_pure_parts():
    params = {"ActionNames.member.2": "b", "ActionNames.member.1": "a",
              "ActionNames.member.x": "no", "MaxItems": "2"}
    assert member_list(params, "ActionNames") == ["a", "b"]
    shown, rest = page(list(range(5)), params)
    assert shown == [0, 1] and rest == {"IsTruncated": True, "Marker": "2"}
    shown, rest = page(list(range(5)), {"MaxItems": "2", "Marker": "4"})
    assert shown == [4] and rest == {"IsTruncated": False, "Marker": None}
    xml = render("ListUsers", {"Users": [{"UserName": "a<b"}], "IsTruncated": False,
                               "Marker": None}, "RID")
    assert xml.endswith(b"<ListUsersResult><Users><member><UserName>a&lt;b</UserName></member>"
                        b"</Users><IsTruncated>false</IsTruncated></ListUsersResult>"
                        b"<ResponseMetadata><RequestId>RID</RequestId></ResponseMetadata>"
                        b"</ListUsersResponse>")
