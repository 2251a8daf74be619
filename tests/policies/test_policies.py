"""IAM policy evaluation: a table of cases modelled on AWS's published examples, and parsing errors.

Each case is written from the IAM documentation's descriptions of policy
evaluation (explicit deny beats allow, implicit deny by default, wildcards,
NotAction with Deny, conditions on source address and time, policy
variables); the policies are our own.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from s3service.identity import Identity
from s3service.policies import (ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, PolicyError, evaluate,
                                parse_policy)
from s3service.authorization import RequestContext

V = "2012-10-17"
ANY = "*"
BUCKET = "arn:aws:s3:::photos"
ALICE = Identity("111122223333", "Example", "AKIAALICE", user="alice")


def doc(*statements: dict, version: str = V) -> str:
    return json.dumps({"Version": version, "Statement": list(statements)}, indent=2)


def allow(action, resource=ANY, sid=None, **extra) -> dict:
    return {**({"Sid": sid} if sid else {}), "Effect": "Allow", "Action": action,
            "Resource": resource, **extra}


def deny(action, resource=ANY, sid=None, **extra) -> dict:
    return {**({"Sid": sid} if sid else {}), "Effect": "Deny", "Action": action,
            "Resource": resource, **extra}


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()


# (id, documents, action, resource, request keys, outcome, deciding Sid)
CASES = [
    # -- the basics: default deny, allow, explicit deny wins -----------------------------
    ("no policy: implicit deny", [], "s3:ListAllMyBuckets", "arn:aws:s3:::*", {},
     IMPLICIT_DENY, None),
    ("an exact allow", [doc(allow("s3:ListAllMyBuckets", sid="List"))],
     "s3:ListAllMyBuckets", "arn:aws:s3:::*", {}, ALLOWED, "List"),
    ("another action: implicit deny", [doc(allow("s3:ListAllMyBuckets"))],
     "s3:CreateBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("actions are case-insensitive", [doc(allow("S3:LISTALLMYBUCKETS", sid="Upper"))],
     "s3:ListAllMyBuckets", "arn:aws:s3:::*", {}, ALLOWED, "Upper"),
    ("an action list", [doc(allow(["s3:CreateBucket", "s3:DeleteBucket"], sid="Two"))],
     "s3:DeleteBucket", BUCKET, {}, ALLOWED, "Two"),
    ("explicit deny beats allow in the same policy",
     [doc(allow("s3:*", sid="All"), deny("s3:DeleteBucket", BUCKET, sid="Keep"))],
     "s3:DeleteBucket", BUCKET, {}, EXPLICIT_DENY, "Keep"),
    ("explicit deny in another policy beats allow",
     [doc(allow("s3:*", sid="All")), doc(deny("s3:DeleteBucket", BUCKET, sid="Other"))],
     "s3:DeleteBucket", BUCKET, {}, EXPLICIT_DENY, "Other"),
    ("a deny on one bucket leaves another", [doc(allow("s3:*", sid="All"),
                                                 deny("s3:DeleteBucket", BUCKET, sid="Keep"))],
     "s3:DeleteBucket", "arn:aws:s3:::scratch", {}, ALLOWED, "All"),
    # -- wildcards ---------------------------------------------------------------------------
    ("s3:* covers every S3 action", [doc(allow("s3:*", sid="S3"))],
     "s3:GetBucketLocation", BUCKET, {}, ALLOWED, "S3"),
    ("s3:List* covers ListBucket", [doc(allow("s3:List*", sid="Lists"))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "Lists"),
    ("s3:List* does not cover GetBucketLocation", [doc(allow("s3:List*"))],
     "s3:GetBucketLocation", BUCKET, {}, IMPLICIT_DENY, None),
    ("? is one character", [doc(allow("s3:ListBucke?", sid="Q"))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "Q"),
    ("? is not two", [doc(allow("s3:ListBuck?"))], "s3:ListBucket", BUCKET, {},
     IMPLICIT_DENY, None),
    ("a resource wildcard", [doc(allow("s3:DeleteBucket", "arn:aws:s3:::tmp-*", sid="Tmp"))],
     "s3:DeleteBucket", "arn:aws:s3:::tmp-1", {}, ALLOWED, "Tmp"),
    ("ARNs are case-sensitive", [doc(allow("s3:DeleteBucket", "arn:aws:s3:::Photos"))],
     "s3:DeleteBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("a * in the service part stays in it", [doc(allow("*", "arn:aws:*:::photos", sid="Svc"))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "Svc"),
    ("another service's action is not S3's", [doc(allow("iam:*"))],
     "s3:ListBucket", BUCKET, {}, IMPLICIT_DENY, None),
    # -- NotAction, NotResource ------------------------------------------------------------
    ("NotAction with Allow: everything else",
     [doc({"Sid": "NotDelete", "Effect": "Allow", "NotAction": "s3:DeleteBucket",
           "Resource": "*"})], "s3:CreateBucket", BUCKET, {}, ALLOWED, "NotDelete"),
    ("NotAction with Allow: not the named one",
     [doc({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"})],
     "s3:DeleteBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("NotAction with Deny denies all but the named (AWS's example)",
     [doc(allow("*", sid="Admin"),
          {"Sid": "OnlyList", "Effect": "Deny", "NotAction": ["s3:List*"], "Resource": "*"})],
     "s3:DeleteBucket", BUCKET, {}, EXPLICIT_DENY, "OnlyList"),
    ("NotAction with Deny lets the named through",
     [doc(allow("*", sid="Admin"),
          {"Sid": "OnlyList", "Effect": "Deny", "NotAction": ["s3:List*"], "Resource": "*"})],
     "s3:ListAllMyBuckets", "arn:aws:s3:::*", {}, ALLOWED, "Admin"),
    ("NotAction with Deny does not allow by itself",
     [doc({"Effect": "Deny", "NotAction": "s3:List*", "Resource": "*"})],
     "s3:ListBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("NotResource with Deny: every bucket but one",
     [doc(allow("s3:*", sid="All"), {"Sid": "OnlyPhotos", "Effect": "Deny", "Action": "s3:*",
                                     "NotResource": BUCKET})],
     "s3:ListBucket", "arn:aws:s3:::other", {}, EXPLICIT_DENY, "OnlyPhotos"),
    ("NotResource with Deny: that one is allowed",
     [doc(allow("s3:*", sid="All"), {"Sid": "OnlyPhotos", "Effect": "Deny", "Action": "s3:*",
                                     "NotResource": BUCKET})],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "All"),
    # -- conditions: source address -----------------------------------------------------
    ("IpAddress inside the range",
     [doc(allow("s3:*", sid="Office", Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "192.0.2.7"}, ALLOWED, "Office"),
    ("IpAddress outside the range",
     [doc(allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "203.0.113.9"}, IMPLICIT_DENY, None),
    ("IpAddress: any of several ranges",
     [doc(allow("s3:*", sid="Two", Condition={"IpAddress": {
         "aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "2001:db8::1"}, ALLOWED, "Two"),
    ("Deny NotIpAddress (AWS's example) from outside",
     [doc(allow("s3:*", sid="All"), deny("*", sid="Outside", Condition={
         "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "198.51.100.1"}, EXPLICIT_DENY, "Outside"),
    ("Deny NotIpAddress from inside",
     [doc(allow("s3:*", sid="All"), deny("*", sid="Outside", Condition={
         "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "203.0.113.30"}, ALLOWED, "All"),
    ("Deny IpAddress: an IPv4 client seen by a dual-stack server is in the IPv4 range",
     [doc(allow("s3:*", sid="All"), deny("*", sid="Loopback", Condition={
         "IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "::ffff:127.0.0.1"}, EXPLICIT_DENY, "Loopback"),
    ("NotIpAddress: an IPv4-mapped client inside the IPv4 range",
     [doc(allow("s3:*", sid="All"), deny("*", sid="Outside", Condition={
         "NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))],
     "s3:ListBucket", BUCKET, {"aws:SourceIp": "::ffff:192.0.2.9"}, ALLOWED, "All"),
    # -- conditions: time ----------------------------------------------------------------
    ("within a date window (AWS's example)",
     [doc(allow("s3:*", sid="Window", Condition={
         "DateGreaterThan": {"aws:CurrentTime": "2026-07-01T00:00:00Z"},
         "DateLessThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}}))],
     "s3:ListBucket", BUCKET, {"aws:CurrentTime": "2026-11-29T06:00:00Z"}, ALLOWED, "Window"),
    ("after the date window",
     [doc(allow("s3:*", Condition={
         "DateGreaterThan": {"aws:CurrentTime": "2026-07-01T00:00:00Z"},
         "DateLessThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}}))],
     "s3:ListBucket", BUCKET, {"aws:CurrentTime": "2027-01-02T00:00:00Z"}, IMPLICIT_DENY, None),
    ("epoch time compared as a date",
     [doc(allow("s3:*", sid="Epoch", Condition={"DateLessThan": {"aws:EpochTime": "1800000000"}}))],
     "s3:ListBucket", BUCKET, {"aws:EpochTime": "1790000000"}, ALLOWED, "Epoch"),
    # -- conditions: strings, numbers, bool, null, IfExists ---------------------------------
    ("StringLike on s3:prefix",
     [doc(allow("s3:ListBucket", BUCKET, sid="Home",
                Condition={"StringLike": {"s3:prefix": ["home/*"]}}))],
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/alice/"}, ALLOWED, "Home"),
    ("StringLike without the key fails",
     [doc(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "home/*"}}))],
     "s3:ListBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("StringLikeIfExists without the key passes",
     [doc(allow("s3:ListBucket", BUCKET, sid="IfEx",
                Condition={"StringLikeIfExists": {"s3:prefix": "home/*"}}))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "IfEx"),
    ("StringNotEquals without the key passes",
     [doc(allow("s3:*", sid="Not", Condition={"StringNotEquals": {"s3:prefix": "secret/"}}))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "Not"),
    ("StringEquals is case-sensitive",
     [doc(allow("s3:*", Condition={"StringEquals": {"aws:username": "Alice"}}))],
     "s3:ListBucket", BUCKET, {"aws:username": "alice"}, IMPLICIT_DENY, None),
    ("StringEqualsIgnoreCase is not",
     [doc(allow("s3:*", sid="Ic", Condition={"StringEqualsIgnoreCase": {"aws:username": "Alice"}}))],
     "s3:ListBucket", BUCKET, {"aws:username": "alice"}, ALLOWED, "Ic"),
    ("condition keys are case-insensitive",
     [doc(allow("s3:*", sid="Keys", Condition={"StringEquals": {"AWS:USERNAME": "alice"}}))],
     "s3:ListBucket", BUCKET, {"aws:username": "alice"}, ALLOWED, "Keys"),
    ("NumericLessThanEquals on s3:max-keys",
     [doc(allow("s3:ListBucket", BUCKET, sid="Small",
                Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))],
     "s3:ListBucket", BUCKET, {"s3:max-keys": "10"}, ALLOWED, "Small"),
    ("NumericLessThanEquals over the limit",
     [doc(allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": 10}}))],
     "s3:ListBucket", BUCKET, {"s3:max-keys": "11"}, IMPLICIT_DENY, None),
    ("a non-number never matches a numeric condition",
     [doc(allow("s3:ListBucket", BUCKET, Condition={"NumericLessThan": {"s3:max-keys": 10}}))],
     "s3:ListBucket", BUCKET, {"s3:max-keys": "ten"}, IMPLICIT_DENY, None),
    ("Deny when not over TLS (AWS's example)",
     [doc(allow("s3:*", sid="All"),
          deny("s3:*", sid="TLS", Condition={"Bool": {"aws:SecureTransport": "false"}}))],
     "s3:ListBucket", BUCKET, {"aws:SecureTransport": "false"}, EXPLICIT_DENY, "TLS"),
    ("Bool over TLS",
     [doc(allow("s3:*", sid="All"),
          deny("s3:*", sid="TLS", Condition={"Bool": {"aws:SecureTransport": False}}))],
     "s3:ListBucket", BUCKET, {"aws:SecureTransport": "true"}, ALLOWED, "All"),
    ("Null true: the key is absent",
     [doc(allow("s3:*", sid="NoPrefix", Condition={"Null": {"s3:prefix": "true"}}))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "NoPrefix"),
    ("Null true: the key is there",
     [doc(allow("s3:*", Condition={"Null": {"s3:prefix": "true"}}))],
     "s3:ListBucket", BUCKET, {"s3:prefix": "a"}, IMPLICIT_DENY, None),
    ("two keys under one operator must both hold",
     [doc(allow("s3:*", Condition={"StringEquals": {"aws:username": "alice",
                                                     "s3:signatureversion": "AWS"}}))],
     "s3:ListBucket", BUCKET, {"aws:username": "alice", "s3:signatureversion": "AWS4-HMAC-SHA256"},
     IMPLICIT_DENY, None),
    ("ForAnyValue: one value is enough",
     [doc(allow("s3:*", sid="Any", Condition={"ForAnyValue:StringEquals": {"s3:authType":
                                                                           ["REST-HEADER"]}}))],
     "s3:ListBucket", BUCKET, {"s3:authType": "REST-HEADER"}, ALLOWED, "Any"),
    ("ForAnyValue: no key fails",
     [doc(allow("s3:*", Condition={"ForAnyValue:StringEquals": {"s3:authType": "REST-HEADER"}}))],
     "s3:ListBucket", BUCKET, {}, IMPLICIT_DENY, None),
    ("ForAllValues: no key passes",
     [doc(allow("s3:*", sid="All", Condition={"ForAllValues:StringEquals": {"s3:authType": "X"}}))],
     "s3:ListBucket", BUCKET, {}, ALLOWED, "All"),
    ("ForAllValues: a value outside the set fails",
     [doc(allow("s3:*", Condition={"ForAllValues:StringEquals": {"s3:authType": "X"}}))],
     "s3:ListBucket", BUCKET, {"s3:authType": "Y"}, IMPLICIT_DENY, None),
    # -- policy variables --------------------------------------------------------------------
    ("${aws:username} in a Resource (AWS's home bucket example)",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username}", sid="Own"))],
     "s3:DeleteBucket", "arn:aws:s3:::home-alice", {"aws:username": "alice"}, ALLOWED, "Own"),
    ("${aws:username}: not someone else's",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username}"))],
     "s3:DeleteBucket", "arn:aws:s3:::home-bob", {"aws:username": "alice"}, IMPLICIT_DENY, None),
    ("a variable without a value matches nothing",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username}"))],
     "s3:DeleteBucket", "arn:aws:s3:::home-", {}, IMPLICIT_DENY, None),
    ("a variable's default",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username, 'guest'}", sid="Guest"))],
     "s3:DeleteBucket", "arn:aws:s3:::home-guest", {}, ALLOWED, "Guest"),
    ("a substituted value is literal, not a wildcard",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username}"))],
     "s3:DeleteBucket", "arn:aws:s3:::home-alice", {"aws:username": "*"}, IMPLICIT_DENY, None),
    ("${*} is a literal asterisk",
     [doc(allow("s3:*", "arn:aws:s3:::a${*}b", sid="Star"))],
     "s3:DeleteBucket", "arn:aws:s3:::a*b", {}, ALLOWED, "Star"),
    ("a variable in a StringLike condition",
     [doc(allow("s3:ListBucket", BUCKET, sid="Prefix",
                Condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}}))],
     "s3:ListBucket", BUCKET, {"aws:username": "alice", "s3:prefix": "home/alice/x"},
     ALLOWED, "Prefix"),
    ("version 2008-10-17 has no variables",
     [doc(allow("s3:*", "arn:aws:s3:::home-${aws:username}"), version="2008-10-17")],
     "s3:DeleteBucket", "arn:aws:s3:::home-alice", {"aws:username": "alice"}, IMPLICIT_DENY, None),
]


@pytest.mark.parametrize("documents, action, resource, keys, outcome, sid",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_evaluation(documents, action, resource, keys, outcome, sid):
    policies = [parse_policy(text, f"p{i}") for i, text in enumerate(documents)]
    lowered = {key.lower(): (value,) for key, value in keys.items()}
    decision = evaluate(policies, action, resource, lowered.get)
    assert decision.outcome == outcome
    assert (decision.statement.sid if decision.statement else None) == sid


def test_the_table_covers_every_outcome():
    assert {case[5] for case in CASES} == {ALLOWED, IMPLICIT_DENY, EXPLICIT_DENY}
    assert len(CASES) >= 50


def test_a_request_context_supplies_the_keys():
    policy = parse_policy(doc(
        allow("s3:ListAllMyBuckets", sid="Office", Condition={
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "Bool": {"aws:SecureTransport": "true"},
            "StringEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256", "aws:username": "alice",
                             "aws:PrincipalAccount": "111122223333",
                             "s3:authType": "REST-HEADER",
                             "s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                             "aws:Referer": "https://intranet.example/"},
            "StringLike": {"s3:prefix": "a*", "aws:UserAgent": "aws-cli/*"},
            "NumericEquals": {"s3:max-keys": "5"},
            "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
            "NumericGreaterThan": {"aws:EpochTime": "1767225600"}})), "ctx")
    environ = {"REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "https",
               "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 ...", "QUERY_STRING": "prefix=ab&max-keys=5",
               "HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD",
               "HTTP_USER_AGENT": "aws-cli/2.15 Python/3.11",
               "HTTP_REFERER": "https://intranet.example/"}
    now = at("2026-06-01T00:00:00")
    ok = RequestContext(environ, ALICE, now=now)
    assert evaluate([policy], "s3:ListAllMyBuckets", "arn:aws:s3:::*", ok.values).allowed
    for change in ({"REMOTE_ADDR": "192.0.2.1"}, {"wsgi.url_scheme": "http"},
                   {"QUERY_STRING": "prefix=b&max-keys=5"}, {"HTTP_AUTHORIZATION": ""},
                   {"HTTP_USER_AGENT": "curl/8"}, {"HTTP_REFERER": "https://elsewhere.example/"}):
        context = RequestContext({**environ, **change}, ALICE, now=now)
        assert not evaluate([policy], "s3:ListAllMyBuckets", "arn:aws:s3:::*",
                            context.values).allowed, change
    early = RequestContext(environ, ALICE, now=at("2025-06-01T00:00:00"))
    assert not evaluate([policy], "s3:ListAllMyBuckets", "arn:aws:s3:::*", early.values).allowed
    v2 = RequestContext(environ, Identity("111122223333", "", "AK", user="alice",
                                          signature_version="v2"), now=now)
    assert v2.values("s3:signatureversion") == ("AWS",)
    assert ok.values("aws:userid") == ("111122223333:alice",)
    assert ok.values("aws:currenttime") == ("2026-06-01T00:00:00Z",)
    kept = RequestContext.detached({**environ, "HTTP_HOST": "x"}, ALICE)   # what a gateway asks
    assert kept.values("aws:useragent") == ("aws-cli/2.15 Python/3.11",)
    assert kept.values("aws:referer") == ("https://intranet.example/",)


# -- malformed documents: refused with the line and the reason --------------------------------

BAD = [
    ("{", 1, "not valid JSON"),
    ('{"Version": "2012-10-17",\n "Statement": [\n  {"Effect": "Allow", "Action": "s3:*",\n'
     '   "Resource": "*",}\n ]}', 4, "not valid JSON"),
    ("[]", 1, "must be a JSON object"),
    ('{"Statement": []}', 1, "missing \"Version\""),
    ('{"Version": "2020-01-01", "Statement": []}', 1, "unsupported Version"),
    ('{"Version": "2012-10-17"}', 1, "missing \"Statement\""),
    ('{"Version": "2012-10-17", "Statement": []}', 1, "\"Statement\" is empty"),
    ('{"Version": "2012-10-17",\n"Statement": [\n{"Effect": "Permit", "Action": "s3:*", '
     '"Resource": "*"}]}', 3, "Effect must be"),
    ('{"Version": "2012-10-17",\n"Statement": [\n{"Effect": "Allow", "Action": "s3:*"}]}', 3,
     "needs Resource or NotResource"),
    ('{"Version": "2012-10-17",\n"Statement": [\n{"Effect": "Allow", "Resource": "*"}]}', 3,
     "needs Action or NotAction"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"NotAction": "s3:x", "Resource": "*"}]}', 1, "not both"),
    ('{"Version": "2012-10-17", "Statement": [\n{"Effect": "Allow", "Action": "ListBucket", '
     '"Resource": "*"}]}', 2, "is not \"service:action\""),
    ('{"Version": "2012-10-17", "Statement": [\n\n{"Effect": "Allow", "Action": "s3:*", '
     '"Resource": "photos"}]}', 3, "is not an ARN"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [], '
     '"Resource": "*"}]}', 1, "Action is empty"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
     '"Resource": "*", "Principal": "*"}]}', 1, "Principal is for resource policies"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
     '"Resource": "*", "Colour": "red"}]}', 1, "unknown key 'Colour'"),
    ('{"Version": "2012-10-17", "Statement": [{"Sid": "a b", "Effect": "Allow", '
     '"Action": "s3:*", "Resource": "*"}]}', 1, "Sid must be letters and digits"),
    ('{"Version": "2012-10-17", "Statement": [\n{"Sid": "A", "Effect": "Allow", "Action": "s3:*",'
     ' "Resource": "*"},\n{"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}',
     3, "duplicate Sid"),
    ('{"Version": "2012-10-17",\n"Version": "2012-10-17", "Statement": []}', 1, "duplicate key"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {\n"StringSortOf": {"aws:username": "a"}}}]}', 2,
     "unknown condition operator 'StringSortOf'"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {\n"ForSomeValues:StringEquals": {"aws:username": "a"}}}]}',
     2, "unknown condition qualifier"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1"}}}]}', 2,
     "'300.1.1.1' is not a valid value"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}]}', 2,
     "'tomorrow' is not a valid value"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"NumericEquals": {"s3:max-keys": "many"}}}]}', 2,
     "is not a valid value"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}]}', 2,
     "is not a valid value"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"NullIfExists": {"s3:prefix": "true"}}}]}', 2,
     "Null takes neither"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"StringEquals": {}}}]}', 2, "needs an object"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",\n'
     '"Resource": "*", "Condition": {"StringEquals": {"aws:username": {"a": 1}}}}]}', 2,
     "not a string, number or boolean"),
    ("", 1, "empty"),
    (b"\xff\xfe", 0, "not UTF-8"),
]


@pytest.mark.parametrize("text, line, reason", BAD, ids=[b[2] for b in BAD])
def test_malformed_documents_are_refused_with_line_and_reason(text, line, reason):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.line == line
    assert reason in caught.value.reason
    if line:
        assert str(caught.value).startswith(f"line {line}: ")


def test_how_a_request_was_signed():
    presigned = RequestContext({"QUERY_STRING": "X-Amz-Signature=abc&X-Amz-Credential=x"}, ALICE)
    assert presigned.values("s3:authtype") == ("REST-QUERY-STRING",)
    v2 = RequestContext({"QUERY_STRING": "Signature=abc&AWSAccessKeyId=x"}, ALICE)
    assert v2.values("s3:authtype") == ("REST-QUERY-STRING",)
    assert RequestContext({}, ALICE).values("s3:authtype") is None
    assert RequestContext({}, ALICE).values("aws:securetransport") == ("false",)
    root = Identity("111122223333", "Example", "AKIAROOT")
    assert RequestContext({}, root).values("aws:username") is None
    assert RequestContext({}, root).values("aws:userid") == ("111122223333",)
    assert RequestContext({}, ALICE).values("no:such-key") is None
    extra = RequestContext({}, ALICE, {"S3:Prefix": ("a", "b")})
    assert extra.values("s3:prefix") == ("a", "b")
