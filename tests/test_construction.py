"""Bad constructor arguments fail at once, naming the parameter and what was expected."""
from __future__ import annotations

import pytest

from s3service import AllowAuthenticated, PolicyAuthorizer, S3ServiceMiddleware
from s3service.backends import MemoryBackend, SQLBackend


def gateway(environ, start_response):
    start_response("200 OK", [])
    return [b""]


STORE = MemoryBackend()

BAD = [   # parameter, value, exception, words the message must hold
    ("app", "not an app", TypeError, "app: expected a WSGI app"),
    ("credentials", object(), TypeError,
     "credentials: expected a CredentialStore (s3service.backends.protocols.CredentialStore);"
     " got object, which has no get_credential() method"),
    ("buckets", object(), TypeError, "buckets: expected a BucketStore"),
    ("authorizer", object(), TypeError, "authorizer: expected an Authorizer"),
    ("metrics", object(), TypeError, "metrics: expected a MetricsStore"),
    ("region", "", ValueError, "region: expected a non-empty string"),
    ("region", 1, TypeError, "region: expected a string"),
    ("service_hosts", 3, TypeError, "service_hosts: expected a list of host names"),
    ("service_hosts", ["s3.example.com", None], TypeError, "it holds None"),
    ("service_hosts", ["s3 example"], ValueError, "service_hosts: expected host names"),
    ("clock_skew", "900", TypeError, "clock_skew: expected a number"),
    ("clock_skew", -1, ValueError, "clock_skew: expected a number at least 0"),
    ("authenticate_all", "yes", TypeError, "authenticate_all: expected True or False"),
    ("token_secret", 42, TypeError, "token_secret: expected str, bytes or None"),
    ("token_secret", "", ValueError, "token_secret: expected a non-empty key"),
    ("metrics_flush_interval", "10", TypeError, "metrics_flush_interval: expected a number"),
    ("metrics_admins", "0" * 64, TypeError,
     "metrics_admins: expected a list of account IDs; got the single string"),
    ("metrics_retention_days", 0, ValueError, "metrics_retention_days: expected a number above 0"),
    ("backend_timeout", "5", TypeError, "backend_timeout: expected a number of seconds or None"),
    ("idle_timeout", 0, ValueError, "idle_timeout must be a positive number"),
]


@pytest.mark.parametrize("name, value, error, words", BAD,
                         ids=[f"{b[0]}={b[1]!r}"[:40] for b in BAD])
def test_each_bad_argument_is_refused_by_its_name(name, value, error, words):
    arguments = {"app": gateway, "credentials": STORE, "buckets": STORE, "metrics": STORE}
    arguments[name] = value
    app = arguments.pop("app")
    with pytest.raises(error) as raised:
        S3ServiceMiddleware(app, **arguments)
    assert words in str(raised.value)


def test_a_string_of_service_hosts_is_one_host():
    app = S3ServiceMiddleware(gateway, credentials=STORE, buckets=STORE,
                              service_hosts="S3.Example.com")
    assert app.service_hosts == ("s3.example.com",)
    assert app.is_bucket_host({"HTTP_HOST": "photos.s3.example.com"})


def test_a_store_missing_one_method_is_named():
    class HalfAStore:
        def get_credential(self, access_key):
            return None

    with pytest.raises(TypeError, match=r"buckets: .* HalfAStore, which has no list_buckets\(\)"):
        S3ServiceMiddleware(gateway, credentials=HalfAStore(), buckets=HalfAStore())
    with pytest.raises(TypeError, match=r"store: .*PolicySource.* no policy_version\(\)"):
        PolicyAuthorizer(HalfAStore())


@pytest.mark.parametrize("arguments, error, words", [
    ((3,), TypeError, "url: expected a database URL string"),
    (("not a url",), ValueError, "url: expected a database URL such as"),
    (("sqlite://",), TypeError, "credential_cache_seconds: expected a number"),
])
def test_sql_backend_arguments(arguments, error, words):
    options = {"credential_cache_seconds": "5"} if arguments == ("sqlite://",) else {}
    with pytest.raises(error, match=words):
        SQLBackend(*arguments, **options)


def test_the_default_authorizer_is_the_stores_policies():
    policies = S3ServiceMiddleware(gateway, credentials=STORE, buckets=STORE).authorizer
    assert isinstance(policies, PolicyAuthorizer) and policies.store is STORE

    class KeysOnly:                       # a store that keeps no IAM policies
        def get_credential(self, access_key):
            return None

        def list_buckets(self, account_id, **options):
            return []

    plain = S3ServiceMiddleware(gateway, credentials=KeysOnly(), buckets=KeysOnly()).authorizer
    assert isinstance(plain, AllowAuthenticated)
    chosen = AllowAuthenticated()
    assert S3ServiceMiddleware(gateway, credentials=STORE, buckets=STORE,
                               authorizer=chosen).authorizer is chosen
