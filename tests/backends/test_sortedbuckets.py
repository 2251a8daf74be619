"""The SQL store's per-account snapshots, and the sorted runs both stores list from."""
from __future__ import annotations

from datetime import datetime, timezone

from s3service.backends.base import BucketInfo
from s3service.backends.sql.listingcache import ListingCache
from s3service.backends.sortedbuckets import SortedBuckets, listing

T = datetime(2024, 1, 1, tzinfo=timezone.utc)


def infos(*names, region="us-east-1"):
    return [BucketInfo(name, T, region) for name in names]


def test_a_snapshot_serves_only_its_own_version():
    cache = ListingCache()
    kept = cache.put("acct", 7, infos("a", "b"))
    assert cache.get("acct", 7) is kept
    assert cache.get("acct", 8) is None
    assert cache.get("other", 7) is None
    cache.put("acct", 8, infos("a"))
    assert cache.get("acct", 7) is None and len(cache.get("acct", 8)) == 1


def test_least_recently_used_accounts_go_first_within_the_bound():
    cache = ListingCache(max_entries=5, max_account=5)
    cache.put("one", 1, infos("a", "b"))
    cache.put("two", 1, infos("a", "b"))
    cache.get("one", 1)                                # "two" is now the oldest
    cache.put("three", 1, infos("a", "b"))             # 6 > 5: "two" goes
    assert cache.get("two", 1) is None
    assert cache.get("one", 1) is not None and cache.get("three", 1) is not None


def test_an_account_over_the_bound_is_never_kept():
    cache = ListingCache(max_entries=10, max_account=2)
    snapshot = cache.put("big", 1, infos("a", "b", "c"))
    assert [i.name for i in snapshot.infos] == ["a", "b", "c"]
    assert cache.get("big", 1) is None and cache.is_large("big", 1)
    assert not cache.is_large("big", 2)
    cache.mark_large("big", 2)
    assert cache.is_large("big", 2) and not cache.is_large("big", 1)


def test_runs_resume_after_the_last_name_and_filter():
    buckets = SortedBuckets(infos("a1", "a2", "b1") + infos("a3", region="eu-west-1"))
    assert [i.name for i in buckets.run("a", None, None, 10)[0]] == ["a1", "a2", "a3"]
    found, last, done = buckets.run("", "a1", None, 2)
    assert [i.name for i in found] == ["a2", "a3"] and last == "a3" and not done
    found, last, done = buckets.run("a", None, "eu-west-1", 10)
    assert [i.name for i in found] == ["a3"] and last == "a3" and done


def test_listing_reads_lazily_past_the_first_run(monkeypatch):
    import s3service.backends.sortedbuckets as sortedbuckets

    monkeypatch.setattr(sortedbuckets, "RUN", 2)
    buckets = SortedBuckets(infos(*"abcde"))
    calls = []

    def runs(after, size):
        calls.append(after)
        return buckets.run("", after, None, size)

    short = listing(runs, None, 2)
    assert isinstance(short, list) and [i.name for i in short] == ["a", "b"]
    calls.clear()
    everything = listing(runs, "a", None)
    assert calls == ["a"]                                   # only the first run, so far
    assert [i.name for i in everything] == ["b", "c", "d", "e"]
    assert calls == ["a", "c"]                              # "e" was the end: no more reads
