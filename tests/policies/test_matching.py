"""Policy wildcards: the same answers as a backtracking matcher, in time linear in the value.

The reference is Python's own regular expressions with ``*`` as ``.*``: right,
but exponential in the number of stars on a crafted value.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from s3service.policies import IMPLICIT_DENY, evaluate, parse_policy
from s3service.policies.evaluate import MAX_RESOURCE
from s3service.policies.matching import LITERAL, matches, resource_matches


def reference(pattern: str, value: str, ignore_case: bool = False) -> bool:
    parts, literal = [], False
    for char in pattern:
        if literal:
            parts.append(re.escape(char))
            literal = False
        elif char == LITERAL:
            literal = True
        else:
            parts.append({"*": ".*", "?": "."}.get(char, re.escape(char)))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(parts), value, flags) is not None


# Small alphabets make matches (and near misses) common.
patterns = st.text(alphabet="ab*?\x00A\n", max_size=10)
values = st.text(alphabet="abAB*?\n", max_size=12)


@settings(max_examples=2000, deadline=None)
@given(patterns, values, st.booleans())
def test_agrees_with_a_backtracking_matcher(pattern, value, ignore_case):
    assert matches(pattern, value, ignore_case) == reference(pattern, value, ignore_case)


def test_the_edges():
    assert matches("*", "") and matches("**", "") and not matches("?", "")
    assert matches("a*a", "aa") and not matches("a*a", "a")       # the runs may not overlap
    assert matches("a*b*a", "abba") and not matches("a*b*a", "aba" "c")
    assert matches("x*?y", "x-y") and not matches("x*?y", "xy")
    assert matches("S3:List*", "s3:listbuckets", ignore_case=True)
    assert not matches("S3:List*", "s3:listbuckets")
    assert matches("photos/\x00*", "photos/*") and not matches("photos/\x00*", "photos/x")


def test_a_crafted_value_is_decided_at_once():
    """Each of these took minutes or hours with ``.*`` (22 s at 600 characters, 372 s at 1,200).

    Run in a child process: a backtracking regular expression never lets go of
    the interpreter, so only a process can be given up on.
    """
    script = textwrap.dedent("""
        from s3service.policies.matching import matches, resource_matches
        name = "team-" + "-" * 1_195 + "x"
        assert not resource_matches("arn:aws:s3:::team-*-*-*-*-logs", "arn:aws:s3:::" + name)
        assert not matches("a*a*a*a*a*a*a*a*b", "a" * 100_000)
        assert not matches("*?*?*?*?*?*?*?*?x", "y" * 20_000)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)


def test_a_resource_longer_than_any_s3_resource_is_refused():
    policy = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    longest = "arn:aws:s3:::" + "b" * 63 + "/" + "k" * (MAX_RESOURCE - 77)
    assert len(longest) == MAX_RESOURCE
    assert evaluate([policy], "s3:GetObject", longest).allowed
    assert evaluate([policy], "s3:GetObject", longest + "k").outcome == IMPLICIT_DENY


def test_arn_parts_are_matched_apart():
    assert resource_matches("arn:aws:s3:::team-*-logs", "arn:aws:s3:::team-a-logs")
    assert not resource_matches("arn:*:s3:::b", "arn:aws:s3:x::b")
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b:c")
