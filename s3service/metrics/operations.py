"""Naming the S3 operation of a request, as the Service Utilization API names it.

:func:`classify` looks only at the method, the path, the names of the query
parameters and whether the bucket is in the host name; it never reads the
body.  A request that is no S3 operation it knows gives ``None``.
"""
from __future__ import annotations

from collections.abc import Mapping

LIST_ALL_MY_BUCKETS = "s3:ListAllMyBuckets"

# Sub-resources, in the order they are looked for: the first one present in
# the query that names an operation for the request's method decides.
_BUCKET_SUBRESOURCES: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("acl", {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"}),
    ("cors", {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"}),
    ("website", {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite",
                 "DELETE": "DeleteBucketWebsite"}),
    ("versioning", {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"}),
    ("lifecycle", {"GET": "GetBucketLifecycle", "PUT": "PutBucketLifecycle",
                   "DELETE": "DeleteBucketLifecycle"}),
    ("replication", {"GET": "GetBucketReplication", "PUT": "PutBucketReplication",
                     "DELETE": "DeleteBucketReplication"}),
    ("policy", {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy",
                "DELETE": "DeleteBucketPolicy"}),
    ("tagging", {"GET": "GetBucketTagging", "PUT": "PutBucketTagging",
                 "DELETE": "DeleteBucketTagging"}),
    ("encryption", {"GET": "GetBucketEncryption", "PUT": "PutBucketEncryption",
                    "DELETE": "DeleteBucketEncryption"}),
    ("notification", {"GET": "GetBucketNotification", "PUT": "PutBucketNotification"}),
    ("object-lock", {"GET": "GetObjectLockConfiguration",
                     "PUT": "PutObjectLockConfiguration"}),
    ("logging", {"GET": "GetBucketLogging", "PUT": "PutBucketLogging"}),
    ("location", {"GET": "GetBucketLocation"}),
    ("uploads", {"GET": "ListBucketMultipartUploads"}),
    ("delete", {"POST": "MultiObjectDelete"}),
)
_BUCKET_DEFAULT: Mapping[str, str] = {
    "GET": "ListBucket",            # ListObjects, ListObjectsV2 and ?versions alike
    "HEAD": "HeadBucket",
    "PUT": "CreateBucket",
    "DELETE": "DeleteBucket",
    "POST": "PutObject",            # browser-based (form) upload
}

_OBJECT_SUBRESOURCES: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("acl", {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"}),
    ("tagging", {"GET": "GetObjectTagging", "PUT": "PutObjectTagging",
                 "DELETE": "DeleteObjectTagging"}),
    ("retention", {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"}),
    ("legal-hold", {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"}),
    ("uploads", {"POST": "InitiateMultipartUpload"}),
    ("uploadId", {"PUT": "UploadPart", "GET": "ListMultipartUploadParts",
                  "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}),
    ("restore", {"POST": "RestoreObject"}),
)
_OBJECT_DEFAULT: Mapping[str, str] = {
    "GET": "GetObject",
    "HEAD": "HeadObject",
    "PUT": "PutObject",
    "DELETE": "DeleteObject",
}
# A PUT carrying x-amz-copy-source copies rather than uploads.
_COPIES = {"PutObject": "CopyObject", "UploadPart": "UploadPartCopy"}


def _all_operations() -> tuple[str, ...]:
    names = [LIST_ALL_MY_BUCKETS]
    for table, default in ((_BUCKET_SUBRESOURCES, _BUCKET_DEFAULT),
                           (_OBJECT_SUBRESOURCES, _OBJECT_DEFAULT)):
        for op in default.values():
            names.append("s3:" + op)
        for _, ops in table:
            names.extend("s3:" + op for op in ops.values())
    names.extend("s3:" + op for op in _COPIES.values())
    return tuple(dict.fromkeys(names))


#: Every operation name :func:`classify` can give, in the order the answer lists them.
OPERATIONS: tuple[str, ...] = _all_operations()


def query_names(query_string: str) -> frozenset[str]:
    """The parameter names of a raw query string (``"acl&x=1"`` gives ``{"acl", "x"}``)."""
    if not query_string:
        return frozenset()
    return frozenset(segment.partition("=")[0] for segment in query_string.split("&"))


def classify(method: str, path: str, query_string: str = "", *, bucket_in_host: bool = False,
             copy_source: bool = False) -> str | None:
    """The UTAPI operation name (``s3:PutObject``...) of a request, or ``None``.

    :param method: the HTTP method.
    :param path: the request path (``PATH_INFO``).
    :param query_string: the raw query string; only parameter names matter.
    :param bucket_in_host: the bucket is named by the host (virtual-hosted style),
        so the whole path is the object key.
    :param copy_source: the request carries an ``x-amz-copy-source`` header.
    """
    if bucket_in_host:
        is_object = len(path) > 1
    else:
        rest = path[1:] if path.startswith("/") else path
        if not rest:
            return LIST_ALL_MY_BUCKETS if method == "GET" else None
        is_object = bool(rest.partition("/")[2])
    if is_object:
        table, default = _OBJECT_SUBRESOURCES, _OBJECT_DEFAULT
    else:
        table, default = _BUCKET_SUBRESOURCES, _BUCKET_DEFAULT
    op = None
    if query_string:
        names = query_names(query_string)
        for name, ops in table:
            if name in names:
                op = ops.get(method)
                if op is not None:
                    break
    if op is None:
        op = default.get(method)
        if op is None:
            return None
    if copy_source and op in _COPIES:
        op = _COPIES[op]
    return "s3:" + op
