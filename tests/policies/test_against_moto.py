"""Our decisions cross-checked against moto's IAM policy evaluation, an independent implementation.

Only what both claim to support is generated: ``Allow``/``Deny``, ``Action``
and ``NotAction``, ``Resource`` lists, ``*`` wildcards, no conditions (moto
turns a failed condition into a deny), no ``?`` and no ``NotResource`` (moto
has neither), and lower-case actions (moto matches actions case-sensitively,
IAM does not).  moto decides one policy at a time (permitted, denied or
neutral); across policies an explicit deny wins, then an allow, as in IAM.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from s3service.policies import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, evaluate, parse_policy

access_control = pytest.importorskip("moto.iam.access_control")

ACTIONS = ["s3:listbucket", "s3:listallmybuckets", "s3:deletebucket", "s3:createbucket",
           "s3:getbucketlocation", "s3:listbucketversions", "iam:listusers"]
ARN = "arn:aws:s3:::"
NAMES = ["photos", "photos-2024", "photos/2024/a", "logs", "a", "ab", "b-a"]


@st.composite
def wildcarded(draw, text: str) -> str:
    """``text`` with some runs of it replaced by ``*``."""
    out, i = [], 0
    while i < len(text):
        if draw(st.integers(0, 5)) == 0:
            skip = draw(st.integers(0, len(text) - i))
            out.append("*")
            i += skip
        else:
            out.append(text[i])
            i += 1
    pattern = "".join(out)
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    return pattern


@st.composite
def action_pattern(draw) -> str:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return "*"
    action = draw(st.sampled_from(ACTIONS))
    service, _, name = action.partition(":")
    return f"{service}:{draw(wildcarded(name)) or '*'}"


@st.composite
def resource_pattern(draw) -> str:
    if draw(st.integers(0, 5)) == 0:
        return "*"
    return ARN + draw(wildcarded(draw(st.sampled_from(NAMES))))


@st.composite
def statement(draw) -> dict:
    key = draw(st.sampled_from(["Action", "NotAction"]))
    actions = draw(st.lists(action_pattern(), min_size=1, max_size=3))
    resources = draw(st.lists(resource_pattern(), min_size=1, max_size=3))
    return {"Effect": draw(st.sampled_from(["Allow", "Deny"])),
            key: actions if len(actions) > 1 or draw(st.booleans()) else actions[0],
            "Resource": resources if len(resources) > 1 or draw(st.booleans()) else resources[0]}


documents = st.lists(st.lists(statement(), min_size=1, max_size=4).map(
    lambda statements: json.dumps({"Version": "2012-10-17", "Statement": statements})),
    min_size=0, max_size=3)


def moto_decides(texts: list[str], action: str, resource: str) -> str:
    results = [access_control.IAMPolicy(text).is_action_permitted(action, resource)
               for text in texts]
    if access_control.PermissionResult.DENIED in results:
        return EXPLICIT_DENY
    if access_control.PermissionResult.PERMITTED in results:
        return ALLOWED
    return IMPLICIT_DENY


@settings(max_examples=400, deadline=None)
@given(texts=documents, action=st.sampled_from(ACTIONS),
       resource=st.sampled_from(NAMES).map(lambda name: ARN + name))
def test_decisions_agree_with_moto(texts, action, resource):
    ours = evaluate([parse_policy(text, str(i)) for i, text in enumerate(texts)],
                    action, resource)
    event(ours.outcome)
    assert ours.outcome == moto_decides(texts, action, resource)


def test_the_cross_check_sees_every_outcome():
    # The generator is not so narrow that one outcome never comes up.
    allow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:list*", "Resource": ARN + "photos*"}]})
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotAction": "s3:listbucket", "Resource": "*"}]})
    assert moto_decides([allow], "s3:listbucket", ARN + "photos-2024") == ALLOWED
    assert moto_decides([allow, deny], "s3:listallmybuckets", ARN + "photos") == EXPLICIT_DENY
    assert moto_decides([allow], "s3:deletebucket", ARN + "photos") == IMPLICIT_DENY
