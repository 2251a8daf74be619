"""Uncached policy decisions of a user with the largest policies IAM allows, and of a neighbour.

One IAM user ("big") has 10 managed policies of 6,144 characters each (IAM's
limits, which the store enforces), filled with distinct wildcard patterns:
Deny statements whose ``Resource`` patterns and ``StringLike`` values on
``s3:prefix`` never match the requests, so every decision looks at every
pattern.  Another account's user ("small") has one policy of a few
patterns.  Every request names a new prefix, so no decision is cached and
each one is evaluated.

Printed, in microseconds per decision (the best of ``--repeat`` runs):

* small alone: the neighbour's decisions with nobody else deciding (the baseline);
* big: the large user's decisions;
* small among big: the neighbour's decisions, each after one of big's;

and the ratios big / small-alone and small-among-big / small-alone.  In-process
(:class:`~s3service.policies.PolicyAuthorizer` on a MemoryBackend), one thread,
no server.  Run: ``python benchmarks/policy_patterns.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

sys.dont_write_bytecode = True

from s3service.backends.memory import MemoryBackend  # noqa: E402
from s3service.backends.policy_base import MAX_ATTACHED, MAX_MANAGED_SIZE, policy_size  # noqa: E402
from s3service.identity import Identity  # noqa: E402
from s3service.policies import PolicyAuthorizer  # noqa: E402

BIG, SMALL = "b" * 64, "s" * 64


def _full_policy(number: int) -> tuple[str, int]:
    """A managed policy of at most MAX_MANAGED_SIZE characters of distinct patterns; its count.

    Even numbers: ``Resource`` patterns; odd ones: ``StringLike`` values (shorter: more of them).
    """
    patterns: list[str] = []

    def document() -> str:
        if number % 2 == 0:
            statement = {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": patterns}
        else:
            statement = {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*",
                         "Condition": {"StringLike": {"s3:prefix": patterns}}}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    i = 0
    while True:
        name = f"{number}{i:x}*"
        patterns.append(f"arn:aws:s3:::{name}" if number % 2 == 0 else name)
        if policy_size(document()) > MAX_MANAGED_SIZE:
            patterns.pop()
            return document(), len(patterns)
        i += 1


def build() -> tuple[PolicyAuthorizer, Identity, Identity, int]:
    store = MemoryBackend()
    patterns = 0
    store.add_account(BIG, "big")
    store.add_key(BIG, "AKIABIG", "secret", user="big")
    for n in range(MAX_ATTACHED):
        document, count = _full_policy(n)
        patterns += count
        store.put_policy(BIG, f"full-{n}", document)
        store.attach_policy(BIG, f"full-{n}", user="big")
    store.add_account(SMALL, "small")
    store.add_key(SMALL, "AKIASMALL", "secret", user="small")
    store.put_policy(SMALL, "own", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::small-*"},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::small-*",
         "Condition": {"StringLike": {"s3:prefix": ["secret/*", "private-?/*"]}}}]}))
    store.attach_policy(SMALL, "own", user="small")
    big = Identity(BIG, "big", "AKIABIG", user="big")
    small = Identity(SMALL, "small", "AKIASMALL", user="small")
    return PolicyAuthorizer(store), big, small, patterns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="decisions per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is shown")
    args = parser.parse_args()
    authorizer, big, small, patterns = build()
    serial = iter(range(10**9))

    def decide(identity: Identity, bucket: str) -> None:
        decision = authorizer.decide(identity, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                     {"s3:prefix": f"q{next(serial)}/"})
        assert decision.outcome in ("allowed", "implicit deny")

    def small_alone() -> None:
        decide(small, "small-data")

    def big_alone() -> None:
        decide(big, "other-data")

    def small_among_big() -> tuple[float, float]:
        decide(big, "other-data")
        start = time.perf_counter()
        decide(small, "small-data")
        return time.perf_counter() - start

    def best(run) -> float:
        results = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            for _ in range(args.calls):
                run()
            results.append((time.perf_counter() - start) / args.calls)
        return min(results) * 1e6

    def best_among() -> float:
        return min(sum(small_among_big() for _ in range(args.calls)) / args.calls
                   for _ in range(args.repeat)) * 1e6

    for run in (small_alone, big_alone, small_alone):    # warm up: parse, load
        run()
    alone = best(small_alone)
    heavy = best(big_alone)
    among = best_among()
    print(f"big user: {MAX_ATTACHED} managed policies, {patterns} patterns")
    print(f"small alone      {alone:10.1f} us per uncached decision (baseline)")
    print(f"big              {heavy:10.1f} us  ({heavy / alone:8.1f} x baseline)")
    print(f"small among big  {among:10.1f} us  ({among / alone:8.1f} x baseline)")


if __name__ == "__main__":
    main()
