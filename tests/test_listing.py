"""The ListBuckets document and its parameters, without a server."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from defusedxml import ElementTree

from s3service.backends.base import BucketInfo, s3_timestamp
from s3service.errors import InvalidArgument
from s3service.listing import ListParams, parse_params, render

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def doc(chunks):
    body = b"".join(chunks)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(body)


def buckets(*names, region="us-east-1"):
    base = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    return [BucketInfo(n, base + timedelta(days=i), region) for i, n in enumerate(names)]


def test_creation_date_is_utc_with_milliseconds():
    paris = timezone(timedelta(hours=1))
    assert s3_timestamp(datetime(2009, 2, 3, 17, 45, 9, 999999, tzinfo=paris)) == \
        "2009-02-03T16:45:09.999Z"
    assert s3_timestamp(datetime(2009, 2, 3, 16, 45, 9, tzinfo=timezone.utc)) == \
        "2009-02-03T16:45:09.000Z"


def test_render_plain_listing():
    root = doc(render("abc123", "Test", buckets("alpha", "beta")))
    assert root.tag == NS + "ListAllMyBucketsResult"
    assert root.findtext(f"{NS}Owner/{NS}ID") == "abc123"
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "Test"
    found = root.findall(f"{NS}Buckets/{NS}Bucket")
    assert [b.findtext(NS + "Name") for b in found] == ["alpha", "beta"]
    assert [b.findtext(NS + "CreationDate") for b in found] == [
        "2024-01-02T03:04:05.678Z", "2024-01-03T03:04:05.678Z"]
    assert found[0].find(NS + "BucketRegion") is None
    assert root.find(NS + "ContinuationToken") is None
    assert root.find(NS + "Prefix") is None


def test_render_empty_listing_has_empty_buckets():
    root = doc(render("id", "", []))
    assert root.find(NS + "Buckets") is not None
    assert root.findall(f"{NS}Buckets/{NS}Bucket") == []


def test_render_escapes_names_and_display_names():
    weird = 'Zoë & <Co> "quoted" \'single\''
    root = doc(render("id&<", weird, buckets("a&b<c")))
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == weird
    assert root.findtext(f"{NS}Owner/{NS}ID") == "id&<"
    assert root.findtext(f"{NS}Buckets/{NS}Bucket/{NS}Name") == "a&b<c"


def test_render_replaces_characters_xml_cannot_carry():
    root = doc(render("id", "bad\x00\x1bname", []))
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "bad\ufffd\ufffdname"


def test_render_streams_in_chunks():
    names = [f"b{i:05d}" for i in range(1200)]
    chunks = list(render("id", "n", iter(buckets(*names))))      # (read as they come)
    assert len(chunks) >= 3
    assert len(doc(chunks).findall(f"{NS}Buckets/{NS}Bucket")) == 1200


def test_render_sends_a_list_of_up_to_a_page_in_one_piece():
    from s3service.listing import WHOLE

    assert WHOLE >= 1200
    chunks = list(render("id", "n", buckets(*(f"b{i:05d}" for i in range(1200)))))
    assert len(chunks) == 1
    assert len(doc(chunks).findall(f"{NS}Buckets/{NS}Bucket")) == 1200
    longer = list(render("id", "n", buckets(*(f"b{i:06d}" for i in range(WHOLE + 1)))))
    assert len(longer) >= 3
    assert len(doc(longer).findall(f"{NS}Buckets/{NS}Bucket")) == WHOLE + 1


def test_paged_render_lookahead_makes_token():
    params = ListParams(paged=True, max_buckets=2, prefix="b")
    root = doc(render("id", "n", buckets("b1", "b2", "b3", region="eu-west-1"), params,
                      lambda last: f"after:{last}"))
    names = [b.findtext(NS + "Name") for b in root.iter(NS + "Bucket")]
    assert names == ["b1", "b2"]
    assert root.findtext(NS + "ContinuationToken") == "after:b2"
    assert root.findtext(NS + "Prefix") == "b"
    assert [b.findtext(NS + "BucketRegion") for b in root.iter(NS + "Bucket")] == \
        ["eu-west-1", "eu-west-1"]


def test_exactly_full_page_has_no_token():
    params = ListParams(paged=True, max_buckets=2)
    root = doc(render("id", "n", buckets("b1", "b2"), params, lambda last: "token"))
    assert root.find(NS + "ContinuationToken") is None


def test_parse_params():
    assert parse_params([]) == ListParams()
    assert parse_params([("foo", "bar")]) == ListParams()
    p = parse_params([("max-buckets", "10"), ("prefix", "ph"), ("bucket-region", "eu-west-1"),
                      ("continuation-token", "tok")])
    assert p == ListParams(True, 10, "tok", "ph", "eu-west-1")
    assert p.page_size == 10
    assert parse_params([("prefix", "")]).page_size == 10000
    assert parse_params([("prefix", "")]).prefix == ""


@pytest.mark.parametrize("value", ["0", "10001", "-1", "abc", "", "1.5", "١٢", " 5", "99999999999999999999"])
def test_max_buckets_out_of_range(value):
    with pytest.raises(InvalidArgument) as caught:
        parse_params([("max-buckets", value)])
    assert caught.value.fields == {"ArgumentName": "max-buckets", "ArgumentValue": value}


@pytest.mark.parametrize("value", ["1", "10000", "007"])
def test_max_buckets_in_range(value):
    assert parse_params([("max-buckets", value)]).max_buckets == int(value)


def test_empty_token_and_duplicates_refused():
    with pytest.raises(InvalidArgument):
        parse_params([("continuation-token", "")])
    with pytest.raises(InvalidArgument):
        parse_params([("prefix", "a"), ("prefix", "b")])


def test_bucket_info_kept_as_its_entry_is_the_same_bucket():
    made = BucketInfo("a&b", datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc), "eu-west-1")
    assert made.listing_xml == ("<Bucket><Name>a&amp;b</Name>"
                                "<CreationDate>2024-01-02T03:04:05.678Z</CreationDate>")
    kept = BucketInfo.from_entry("a&b", "eu-west-1", made.listing_xml)
    assert kept == made and hash(kept) == hash(made)
    assert kept.created == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    assert kept.creation_date == made.creation_date == "2024-01-02T03:04:05.678Z"
    assert kept != BucketInfo.from_entry("a&b", "us-east-1", made.listing_xml)
    assert "a&b" in repr(kept) and "2024-01-02T03:04:05.678Z" in repr(kept)


def test_bucket_info_is_immutable():
    info = buckets("photos")[0]
    with pytest.raises(AttributeError):
        info.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        info.region = "eu-west-1"  # type: ignore[misc]
