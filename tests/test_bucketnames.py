"""S3's bucket naming rules (s3service.bucketnames)."""
from __future__ import annotations

import pytest

from s3service.bucketnames import bucket_name_problem, is_valid_bucket_name, validate_bucket_name
from s3service.errors import InvalidBucketName

VALID = [
    "abc",
    "a" * 63,
    "photos",
    "my-bucket-2024",
    "my.bucket.name",
    "0123456789",
    "1bucket1",
    "a-b.c-d",
    "b.1.2.3",                 # has digits and dots, but is no IP address
    "1.2.3",                   # three groups: not formatted as an IP address
    "1.2.3.4.5",
    "xn-bucket",               # only "xn--" is reserved
    "bucket-xn--a",
    "sthree",
    "amzn-s3-demo",
    "bucket-s3alias-not-at-end",
    "mrap.bucket",
    "bucket--x-s3a",
    "bucket-ol-s3",            # "--ol-s3" (two hyphens) is the reserved suffix
]

INVALID = [
    ("", "between 3 and 63"),
    ("ab", "between 3 and 63"),
    ("a" * 64, "between 3 and 63"),
    ("MyBucket", "lowercase"),
    ("my_bucket", "lowercase"),
    ("my bucket", "lowercase"),
    ("bücket", "lowercase"),
    ("bucket/key", "lowercase"),
    ("-bucket", "begin and end"),
    ("bucket-", "begin and end"),
    (".bucket", "begin and end"),
    ("bucket.", "begin and end"),
    ("my..bucket", "adjacent dots"),
    ("192.168.5.4", "IP address"),
    ("10.0.0.1", "IP address"),
    ("xn--bucket", "prefix"),
    ("sthree-bucket", "prefix"),
    ("sthree-configurator", "prefix"),
    ("amzn-s3-demo-bucket", "prefix"),
    ("bucket-s3alias", "suffix"),
    ("bucket--ol-s3", "suffix"),
    ("bucket.mrap", "suffix"),
    ("bucket--x-s3", "suffix"),
    ("bucket--table-s3", "suffix"),
]


@pytest.mark.parametrize("name", VALID)
def test_valid(name):
    assert validate_bucket_name(name) is None
    assert is_valid_bucket_name(name)
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize("name, reason", INVALID)
def test_invalid(name, reason):
    with pytest.raises(InvalidBucketName) as caught:
        validate_bucket_name(name)
    error = caught.value
    assert reason in error.reason
    assert not is_valid_bucket_name(name)
    # As S3 answers it: 400, its own message, the name echoed back.
    assert error.status == 400 and error.code == "InvalidBucketName"
    assert error.fields == {"BucketName": name}
    assert b"<Code>InvalidBucketName</Code>" in error.to_xml("REQ", "HOST")


@pytest.mark.parametrize("name", [None, 123, b"bucket"])
def test_not_a_string(name):
    with pytest.raises(InvalidBucketName):
        validate_bucket_name(name)
