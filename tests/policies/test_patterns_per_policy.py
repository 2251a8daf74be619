"""Wildcard patterns are compiled with their policy, not in a cache every tenant shares.

A user may hold ten managed policies of 6,144 characters of short patterns
(IAM's limits): thousands of distinct patterns.  Kept in one shared cache of
4,096, they evicted each other on every decision (about 0.1-0.2 s of CPU per
uncached decision, measured in ``benchmarks/policy_patterns.py``) and evicted
every other tenant's patterns with them.  What is checked here, without
timing: once a user's policies are loaded, an uncached decision compiles no
pattern, the large user's or a neighbour's; a pattern with a policy variable
is compiled after substitution, and still decides right.
"""
from __future__ import annotations

import json

import pytest

from s3service.backends.memory import MemoryBackend
from s3service.backends.policy_base import MAX_ATTACHED, MAX_MANAGED_SIZE, policy_size
from s3service.identity import Identity
from s3service.policies import PolicyAuthorizer
from s3service.policies import matching

BIG, SMALL = "b" * 64, "s" * 64


def _full(number: int) -> str:
    patterns: list[str] = []

    def document() -> str:
        statement = ({"Effect": "Deny", "Action": "s3:ListBucket", "Resource": patterns}
                     if number % 2 == 0 else
                     {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*",
                      "Condition": {"StringLike": {"s3:prefix": patterns}}})
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    while policy_size(document()) <= MAX_MANAGED_SIZE:
        name = f"{number}{len(patterns):x}*"
        patterns.append(f"arn:aws:s3:::{name}" if number % 2 == 0 else name)
    patterns.pop()
    return document()


@pytest.fixture(scope="module")
def tenants():
    store = MemoryBackend()
    store.add_account(BIG, "big")
    store.add_key(BIG, "AKIABIG", "secret", user="big")
    for n in range(MAX_ATTACHED):
        store.put_policy(BIG, f"full-{n}", _full(n))
        store.attach_policy(BIG, f"full-{n}", user="big")
    store.add_account(SMALL, "small")
    store.add_key(SMALL, "AKIASMALL", "secret", user="small")
    store.put_policy(SMALL, "own", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::small-*"},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::small-*",
         "Condition": {"StringLike": {"s3:prefix": ["secret/*", "private-?/*"]}}},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::small-home/${aws:username}/*"}]}))
    store.attach_policy(SMALL, "own", user="small")
    return (PolicyAuthorizer(store), Identity(BIG, "big", "AKIABIG", user="big"),
            Identity(SMALL, "small", "AKIASMALL", user="small"))


@pytest.fixture
def compiled(monkeypatch):
    """The patterns compiled while the test runs."""
    made: list[str] = []
    original = matching.Glob.__init__

    def counting(self, pattern, *args, **kwargs):
        made.append(pattern)
        original(self, pattern, *args, **kwargs)

    monkeypatch.setattr(matching.Glob, "__init__", counting)
    return made


def test_uncached_decisions_compile_no_pattern(tenants, compiled):
    authorizer, big, small = tenants
    prefixes = iter(range(10**6))

    def decide(identity: Identity, bucket: str) -> str:
        return authorizer.decide(identity, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                 {"s3:prefix": f"q{next(prefixes)}/"}).outcome

    assert decide(big, "other") == "implicit deny"          # loads (and compiles) big's policies
    assert decide(small, "small-data") == "allowed"
    compiled.clear()
    for _ in range(3):                                      # each with a new prefix: not kept
        assert decide(big, "other") == "implicit deny"
        assert decide(small, "small-data") == "allowed"
    assert authorizer.decide(small, "s3:ListBucket", "arn:aws:s3:::small-data",
                             {"s3:prefix": "private-7/x"}).outcome == "explicit deny"
    assert compiled == []
    big_patterns = sum(len(s.resource_patterns) + sum(len(c.compiled or ()) for c in s.conditions)
                       for p in authorizer._entry(big).policies for s in p.statements)
    assert big_patterns > 4096                              # more than the old shared cache held


def test_a_pattern_with_a_variable_is_compiled_after_substitution(tenants, compiled):
    authorizer, _, small = tenants
    assert authorizer.decide(small, "s3:GetObject",
                             "arn:aws:s3:::small-home/small/notes.txt").allowed
    assert "small-home/small/*" in compiled
    assert not authorizer.decide(small, "s3:GetObject",
                                 "arn:aws:s3:::small-home/other/notes.txt").allowed
