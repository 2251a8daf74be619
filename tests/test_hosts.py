"""Virtual-hosted-style addressing: which bucket a Host names."""
from __future__ import annotations

import pytest

from s3service.gateway import Gateway
from s3service.hosts import bucket_from_host, service_host_names, split_host

NESTED = service_host_names(["Example.COM.", " s3.example.com ", ""])


def test_service_host_names_are_normalized():
    assert NESTED == ("example.com", "s3.example.com")


@pytest.mark.parametrize("host,expected", [
    ("s3.example.com", "s3.example.com"),
    ("S3.Example.com:8080", "s3.example.com"),
    ("photos.s3.example.com.", "photos.s3.example.com"),
    ("[::1]:9000", "[::1]"),
    ("127.0.0.1:80", "127.0.0.1"),
])
def test_split_host(host, expected):
    assert split_host(host) == expected


@pytest.mark.parametrize("host,expected", [
    ("s3.example.com", None),              # a service host itself, though under example.com
    ("example.com:8000", None),
    ("photos.s3.example.com", "photos"),   # the longest service host wins
    ("photos.example.com", "photos"),
    ("a.b.s3.example.com", "a.b"),         # dotted bucket names
    ("other.org", None),
    ("127.0.0.1:9000", None),
    ("xexample.com", None),                # a suffix, but not at a dot
])
def test_bucket_from_host(host, expected):
    assert bucket_from_host(host, NESTED) == expected


def test_no_service_hosts_means_path_style():
    assert bucket_from_host("photos.s3.example.com", ()) is None


@pytest.mark.parametrize("host,path,expected", [
    ("s3.example.com", "/photos/a/b", ("photos", "a/b")),
    ("photos.s3.example.com", "/a/b", ("photos", "a/b")),
    ("example.com", "/photos", ("photos", "")),
])
def test_gateway_address(host, path, expected):
    gateway = Gateway(store=None, service_hosts=["example.com", "s3.example.com"])
    assert gateway.address({"HTTP_HOST": host, "PATH_INFO": path}) == expected
