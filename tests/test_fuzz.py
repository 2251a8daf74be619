"""Property tests of every parser that reads the wire: nothing crashes, every answer is S3's.

The long run is ``python fuzz/fuzz_requests.py --count 100000``; here a short
run of the same script, plus hypothesis on each parser alone (modest example
counts: the whole file stays well under 30 s).
"""
from __future__ import annotations

import calendar

import io
import json
from datetime import datetime, timezone
from email.utils import formatdate
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from s3service import S3ServiceMiddleware, tokens
from s3service.auth import authenticate
from s3service.auth.common import parse_amz_date, parse_http_date
from s3service.wsgi import parse_query
from s3service.errors import InvalidArgument, S3Error
from s3service.listing import MAX_BUCKETS, parse_params
from s3service.metrics.api import parse_request_body, validate_time_range

from tests.helpers import fuzzing as fz
from tests.helpers.signing import signed_environ

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=40, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

KEY = fz.KEYS[0]
# WSGI strings: bytes off the wire decoded as latin-1 -- and, for robustness, any text at all.
wsgi_text = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=300)
any_text = st.text(max_size=200)
wire = st.one_of(wsgi_text, any_text)


@pytest.fixture(scope="module")
def fuzz_store():
    """The fuzz script's store (not conftest's ``store``): its accounts, keys and buckets."""
    return fz.make_store()


@pytest.fixture(scope="module")
def apps(fuzz_store):
    return fz.make_apps(fuzz_store)


@pytest.fixture(scope="module")
def v4_environ():
    return signed_environ("GET", f"http://{fz.HOST}/", KEY.access_key, KEY.secret,
                          region=fz.REGION)


def auth(environ, store):
    return authenticate(environ, store, region=fz.REGION, service_hosts=[fz.HOST])


def refused_or_accepted(environ, store):
    """The request authenticates, or is refused with a 4xx S3 error; nothing else."""
    try:
        return auth(environ, store)
    except S3Error as exc:
        assert 400 <= exc.status < 500, exc
        assert exc.code in fz.CODE_STATUS
        return exc


def assert_s3_answer(app, environ):
    answer = fz.call(app, environ)
    label, problem = fz.check(app, environ, answer)
    assert problem is None, (label, problem, answer.status, answer.body[:500])
    return label, answer


# -- the Authorization header ------------------------------------------------------------

_V4_PARTS = st.sampled_from([
    "AWS4-HMAC-SHA256", " ", ",", ", ", "=", "/", "Credential=", "SignedHeaders=", "Signature=",
    KEY.access_key, "20240101", fz.REGION, "s3", "aws4_request", "host;x-amz-date", "host",
    "0" * 64, "AWS ", ":", "\u00e9", "\x00", "\ud800", "Credential", "x-amz-content-sha256"])


@FUZZ
@given(header=st.one_of(wire, st.lists(_V4_PARTS, max_size=25).map("".join)))
@example(header="AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=")
@example(header="AWS :")
@example(header="AWS \u00e9\u00e9:x")
def test_any_authorization_header(fuzz_store, v4_environ, header):
    environ = dict(v4_environ, HTTP_AUTHORIZATION=header)
    result = refused_or_accepted(environ, fuzz_store)
    assert isinstance(result, S3Error)  # nothing but the real header is accepted


def test_every_truncation_of_valid_authorization_headers(fuzz_store, apps):
    """Through the middleware: each truncation of each valid header is a 4xx S3 error."""
    bases = fz.valid_environs()[::9]
    seen = 0
    for environ in fz.truncations(bases):
        for app in apps:
            label, _ = assert_s3_answer(app, fz.clone(environ))
            assert label.startswith("4"), label
        seen += 1
    assert seen > 500


# -- the presigned query ---------------------------------------------------------------------

_PARAM_NAMES = st.sampled_from(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                                "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                                "X-Amz-Security-Token", "AWSAccessKeyId", "Signature", "Expires",
                                "max-buckets", "prefix", "x-amz-acl", "Action"])
_PARAM_VALUES = st.one_of(
    st.sampled_from(["AWS4-HMAC-SHA256", f"{KEY.access_key}/20240101/{fz.REGION}/s3/aws4_request",
                     "20240101T000000Z", "3600", "604801", "-1", "0", "host", "0" * 64, "", "%",
                     "99999999999999999999999"]),
    wsgi_text)


@FUZZ
@given(pairs=st.lists(st.tuples(_PARAM_NAMES, _PARAM_VALUES), max_size=12),
       raw=st.one_of(st.none(), wsgi_text))
def test_any_presigned_query(fuzz_store, pairs, raw):
    query = raw if raw is not None else "&".join(
        f"{quote(name)}={quote(value.encode('latin-1'))}" for name, value in pairs)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": query,
               "HTTP_HOST": fz.HOST}
    result = refused_or_accepted(environ, fuzz_store)
    assert result is None or isinstance(result, S3Error)


@FEW
@given(extra=st.lists(st.tuples(_PARAM_NAMES, _PARAM_VALUES), min_size=1, max_size=4))
def test_presigned_url_with_changed_parameters_is_refused(fuzz_store, extra):
    environ = signed_environ("GET", f"http://{fz.HOST}/", KEY.access_key, KEY.secret,
                             presign=True, region=fz.REGION)
    environ["QUERY_STRING"] += "".join(f"&{quote(n)}={quote(v.encode('latin-1'))}"
                                       for n, v in extra)
    assert isinstance(refused_or_accepted(environ, fuzz_store), S3Error)


# -- dates ------------------------------------------------------------------------------------

@FUZZ
@given(text=wire)
@example(text="Sun, 06 Nov 1994 08:49:37 GMT")
@example(text="Mon, 31 Feb 2024 00:00:00 GMT")
@example(text="20240230T000000Z")
@example(text="99991231T235959Z")
def test_date_parsers_never_raise(text):
    for parse in (parse_http_date, parse_amz_date):
        value = parse(text)
        assert value is None or isinstance(value, int)


@FUZZ
@given(when=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31),
                         timezones=st.just(timezone.utc)))
def test_valid_dates_round_trip(when):
    epoch = calendar.timegm(when.utctimetuple())  # exact, unlike float timestamp() far out
    assert parse_amz_date(when.strftime("%Y%m%dT%H%M%SZ")) == epoch
    assert parse_http_date(formatdate(epoch, usegmt=True)) == epoch


@FEW
@given(date=wire, header=st.sampled_from(["HTTP_X_AMZ_DATE", "HTTP_DATE"]))
def test_any_date_header(fuzz_store, v4_environ, date, header):
    environ = dict(v4_environ)
    environ.pop("HTTP_X_AMZ_DATE", None)
    environ[header] = date
    assert isinstance(refused_or_accepted(environ, fuzz_store), S3Error)


# -- x-amz-* headers ---------------------------------------------------------------------------

_HEADER_NAME = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF),
                       min_size=1, max_size=20).map(lambda s: "HTTP_X_AMZ_" + s.upper())


@FUZZ
@given(headers=st.dictionaries(_HEADER_NAME, wire, min_size=1, max_size=4),
       version=st.sampled_from(["v4", "v2"]))
def test_unsigned_amz_headers_are_refused(fuzz_store, headers, version):
    environ = (signed_environ("GET", f"http://{fz.HOST}/", KEY.access_key, KEY.secret,
                              region=fz.REGION, version=version)
               if version == "v2" else dict(_V4))
    environ.update(headers)
    result = refused_or_accepted(environ, fuzz_store)
    if version == "v4" and all(name not in _V4 for name in headers):
        assert result.code == "AccessDenied" and "HeadersNotSigned" in result.fields
    else:
        assert isinstance(result, S3Error)


_V4 = signed_environ("GET", f"http://{fz.HOST}/", KEY.access_key, KEY.secret,
                     region=fz.REGION)


# -- max-buckets and the other ListBuckets parameters ------------------------------------------

@FUZZ
@given(raw=wire)
@example(raw="9" * 5000)
@example(raw="0" * 5000 + "1")
@example(raw="\u0663")
@example(raw="10000")
@example(raw="10001")
def test_max_buckets(raw):
    digits = raw.lstrip("0")
    ok = (raw.isascii() and raw.isdigit() and len(digits) <= 6
          and 1 <= int(digits or "0") <= MAX_BUCKETS)
    try:
        params = parse_params([("max-buckets", raw)])
    except InvalidArgument as exc:
        assert not ok and exc.fields["ArgumentName"] == "max-buckets"
    else:
        assert ok and params.max_buckets == int(digits)


@FUZZ
@given(query=wsgi_text)
def test_any_listing_query(query):
    try:
        parse_params(parse_query(query))
    except InvalidArgument:
        pass


# -- continuation tokens -----------------------------------------------------------------------

@FUZZ
@given(token=st.one_of(wire, st.binary(max_size=80).map(
    lambda b: __import__("base64").urlsafe_b64encode(b).decode())))
@example(token="")
@example(token="A" * 5000)
def test_any_continuation_token(token):
    try:
        after = tokens.decode(b"k" * 32, token, "a" * 64, "", None)
    except tokens.BadToken:
        return
    assert isinstance(after, str)


@FUZZ
@given(after=st.text(min_size=1, max_size=64), prefix=st.text(max_size=10),
       region=st.one_of(st.none(), st.text(max_size=10)))
def test_tokens_round_trip_and_bind_the_listing(after, prefix, region):
    key = b"s" * 32
    token = tokens.encode(key, "a" * 64, prefix, region, after)
    try:
        after.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(tokens.BadToken):
            tokens.decode(key, token, "a" * 64, prefix, region)
        return
    assert tokens.decode(key, token, "a" * 64, prefix, region) == after
    for other in (("b" * 64, prefix, region), ("a" * 64, prefix + "x", region),
                  ("a" * 64, prefix, (region or "") + "x")):
        with pytest.raises(tokens.BadToken):
            tokens.decode(key, token, *other)


@FEW
@given(token=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x17F),
                     min_size=1, max_size=60))
def test_signed_request_with_a_bad_token(apps, token):
    """A correctly signed ListBuckets carrying a random token: 400 InvalidArgument."""
    environ = signed_environ(
        "GET", f"http://{fz.HOST}/?continuation-token={quote(token, safe='')}",
        KEY.access_key, KEY.secret, region=fz.REGION)
    for app in apps:
        label, _ = assert_s3_answer(app, fz.clone(environ))
        assert label == "400 InvalidArgument"


# -- the ListMetrics body ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["service", "timeRange", "buckets", "accounts", "x"])
                      | st.text(max_size=5), children, max_size=4),
    max_leaves=12)


@FUZZ
@given(body=st.one_of(st.binary(max_size=200), json_values.map(
    lambda v: json.dumps(v).encode())),
       action=st.sampled_from(["ListMetrics", "ListRecentMetrics"]))
@example(body=b"[" * 100000, action="ListMetrics")
@example(body=b'{"service": ["s3"], "timeRange": [' + b"9" * 5000 + b"]}", action="ListMetrics")
def test_any_metrics_body(body, action):
    try:
        request = parse_request_body(body, action)
        if action == "ListMetrics":
            validate_time_range(request["timeRange"], 1_700_000_000_000)
    except S3Error as exc:
        assert exc.status in (400, 501), exc


@FEW
@given(value=json_values)
def test_metrics_body_through_the_middleware(apps, value):
    body = json.dumps(value).encode()
    environ = signed_environ(
        "POST", f"http://{fz.HOST}/?Action=ListMetrics", KEY.access_key, KEY.secret,
        region=fz.REGION, body=body, headers={"Content-Type": "application/json"})
    label, answer = assert_s3_answer(apps[0], environ)
    assert label.endswith("(json)") or label == "200 metrics"


# -- methods ----------------------------------------------------------------------------------

@FUZZ
@given(method=st.one_of(
    st.sampled_from(["PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT", "BREW",
                     "get", "post", "PROPFIND"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=20)))
def test_other_methods_on_the_service_are_405(apps, method):
    if method in ("GET", "POST"):
        return
    for app in apps:
        environ = dict(_V4, REQUEST_METHOD=method, **{"wsgi.input": io.BytesIO()})
        answer = fz.call(app, environ)
        assert answer.status.startswith("405 "), (method, answer.status)
        label, problem = fz.check(app, environ, answer)
        assert problem is None
        if method != "HEAD":
            assert label == "405 MethodNotAllowed"
        assert ("Allow", "GET, POST") in answer.headers


def test_post_without_metrics_passes_on():
    store = fz.make_store()
    app = S3ServiceMiddleware(fz.passthrough, credentials=store, buckets=store)
    answer = fz.call(app, dict(_V4, REQUEST_METHOD="POST", **{"wsgi.input": io.BytesIO()}))
    assert answer.status == "200 OK" and answer.body == b"passthrough"


# -- the fuzz script itself ---------------------------------------------------------------------

def test_fuzz_script_short_run():
    counts, violations, _ = fz.run(2500, seed=7, faults=0.05, verbose=False)
    assert violations == []
    assert sum(counts.values()) == 2500
    assert counts["exception"] == 0
    assert any(label.startswith("5") for label in counts)  # the faults did happen


def test_fuzz_script_exit_status(capsys):
    assert fz.main(["--count", "300", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "violations: 0" in out and "elapsed" in out
