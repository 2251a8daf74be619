"""A worker's tally: what its publisher takes adds up to exactly what was added."""
from __future__ import annotations

import random
import threading
from collections import Counter

from s3service.gateway.tally import LATENCY_BOUNDS, LISTING_BOUNDS, Histogram, Tally


def test_what_is_taken_is_what_was_added_from_many_threads():
    rng = random.Random(23)
    # (operation, status, seconds, account, received, sent, code, listed)
    records = [(rng.choice(["s3:ListAllMyBuckets", "s3:HeadBucket"]),
                rng.choice(["200 OK", "403 Forbidden"]), rng.random() / 10,
                rng.choice([None, "a", "b"]), rng.randint(0, 3), rng.randint(0, 2),
                rng.choice([None, "AccessDenied", "NoSuchBucket"]), rng.choice([None, 2, 50]))
               for _ in range(4000)]
    tally = Tally()

    def add(part):
        took = tally.call_timer("get_credential")
        for number, record in enumerate(part):
            tally.enter()
            if number % 2:
                tally.request(*record)
            else:
                operation, status, seconds, *rest = record
                tally.add_request((operation, status, *rest, seconds))
            if number % 3 == 0:
                tally.store_call("get_credential", record[2] / 10, "OperationalError")
            else:
                took(record[2] / 10)
    threads = [threading.Thread(target=add, args=(records[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.enter()                                    # one still being answered
    taken = tally.take()
    assert taken.requests == Counter((r[0], r[1][:3]) for r in records)
    for operation, histogram in taken.durations.items():
        expected = Histogram(LATENCY_BOUNDS)
        for record in records:
            if record[0] == operation:
                expected.observe(record[2])
        assert histogram.counts == expected.counts
        assert abs(histogram.total - expected.total) < 1e-9
    accounts: dict[str, list[int]] = {}
    for record in records:
        if record[3] is not None:
            totals = accounts.setdefault(record[3], [0, 0, 0])
            totals[0] += 1
            totals[1] += record[4]
            totals[2] += record[5]
    assert taken.accounts == accounts
    assert taken.auth_failures == {"AccessDenied": sum(r[6] == "AccessDenied" for r in records)}
    listings = Histogram(LISTING_BOUNDS)
    for record in records:
        if record[7] is not None:
            listings.observe(record[7])
    assert taken.listings == listings
    assert taken.store_call_counts == {"get_credential": len(records)}
    calls = Histogram(LATENCY_BOUNDS)
    for record in records:
        calls.observe(record[2] / 10)
    assert taken.store_calls["get_credential"].counts == calls.counts
    assert abs(taken.store_calls["get_credential"].total - calls.total) < 1e-9
    assert taken.store_errors == {("get_credential", "OperationalError"): sum(
        len(records[i::4][::3]) for i in range(4))}
    assert taken.in_flight == 1
    tally.request(*records[0])
    assert tally.take().in_flight == 0 and tally.take().requests == {}
    tally.call_timer("get_credential")(0.001)
    assert tally.take().store_call_counts == {"get_credential": 1}
    assert tally.take().store_call_counts == {} and tally.take().store_errors == {}


def test_each_value_is_counted_in_the_first_bucket_whose_bound_it_does_not_exceed():
    values = [0.0, 0.0005, 0.00051, 0.001, 2.5, 10.0, 11.0, 0.3, 0.0005]
    one_by_one, at_once = Histogram(LATENCY_BOUNDS), Histogram(LATENCY_BOUNDS)
    for value in values:
        one_by_one.observe(value)
    at_once.observe_all(values)
    at_once.observe_all([])
    assert at_once == one_by_one
    # (Prometheus's "le": a value equal to a bound is counted under it)
    assert dict(zip(LATENCY_BOUNDS, at_once.counts)) == {
        **dict.fromkeys(LATENCY_BOUNDS, 0), 0.0005: 3, 0.001: 2, 0.5: 1, 2.5: 1, 10.0: 1,
        float("inf"): 1}
    assert abs(at_once.total - sum(values)) < 1e-12
