"""S3 errors: one class per error code, each rendering S3's ``<Error>`` document.

Raise an instance anywhere in request handling; the middleware answers it with
the code's HTTP status and XML body, adding ``RequestId`` and ``HostId``::

    raise SignatureDoesNotMatch(AWSAccessKeyId=key, StringToSign=sts)

Keyword arguments become extra child elements of ``<Error>``, in order.  Never
pass a secret: everything given here is sent to the client.

A class's name is its S3 error code unless it says otherwise (``code``;
``NotImplemented_`` is ``NotImplemented``, leaving Python's own name alone).
The catalogue covers what a gateway answers: authentication, malformed
requests, bodies, buckets, objects, multipart uploads, redirects and the
service's own errors; :func:`catalogue` lists them.  An error S3 has and this
module lacks is one line: ``error_class("Code", status, "message")``.
"""
from __future__ import annotations

from typing import ClassVar

from .xmltext import element

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class S3Error(Exception):
    """Base class: an error answered to the client as S3 answers it."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    message: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str | None = None, **fields: object) -> None:
        self.text = message or self.message
        self.fields = {k: "" if v is None else str(v) for k, v in fields.items()}
        super().__init__(f"{self.code}: {self.text}")

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, 'Error')}"

    def to_xml(self, request_id: str, host_id: str) -> bytes:
        """The ``<Error>`` document for this error, as UTF-8 bytes."""
        parts = [XML_DECLARATION, "<Error>", element("Code", self.code),
                 element("Message", self.text)]
        parts.extend(element(name, value) for name, value in self.fields.items())
        parts.append(element("RequestId", request_id))
        parts.append(element("HostId", host_id))
        parts.append("</Error>")
        return "".join(parts).encode("utf-8")


_REASONS = {301: "Moved Permanently", 307: "Temporary Redirect",
            400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 411: "Length Required", 412: "Precondition Failed",
            413: "Request Entity Too Large", 416: "Requested Range Not Satisfiable",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def error_class(code: str, status: int, message: str, module: str = __name__) -> type[S3Error]:
    """A new :class:`S3Error` subclass answering ``status code`` with ``message`` by default."""
    return type(code, (S3Error,), {"code": code, "status": status, "message": message,
                                   "__doc__": f"``{status} {code}``: {message}",
                                   "__module__": module})


_error = error_class


# The catalogue: S3's error codes with their HTTP status and S3's wording.

# Authentication and authorization.
AccessDenied = _error("AccessDenied", 403, "Access Denied")
AccountProblem = _error(
    "AccountProblem", 403,
    "There is a problem with your AWS account that prevents the operation from completing "
    "successfully.")
AllAccessDisabled = _error("AllAccessDisabled", 403,
                           "All access to this Amazon S3 resource has been disabled.")
InvalidSecurity = _error("InvalidSecurity", 403,
                         "The provided security credentials are not valid.")
SignatureVersionNotSupported = _error(
    "SignatureVersionNotSupported", 400,
    "The authorization mechanism you have provided is not supported.")
InvalidAccessKeyId = _error(
    "InvalidAccessKeyId", 403,
    "The AWS Access Key Id you provided does not exist in our records.")
AuthorizationHeaderMalformed = _error(
    "AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
AuthorizationQueryParametersError = _error(
    "AuthorizationQueryParametersError", 400,
    "Error parsing the X-Amz-Credential parameter.")
InvalidToken = _error("InvalidToken", 400,
                      "The provided token is malformed or otherwise invalid.")
ExpiredToken = _error("ExpiredToken", 400, "The provided token has expired.")
MissingSecurityHeader = _error("MissingSecurityHeader", 400,
                               "Your request was missing a required header.")
XAmzContentSHA256Mismatch = _error(
    "XAmzContentSHA256Mismatch", 400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.")

# Malformed requests.
InvalidArgument = _error("InvalidArgument", 400, "Invalid Argument")
InvalidRequest = _error("InvalidRequest", 400, "Invalid Request")
MalformedXML = _error(
    "MalformedXML", 400,
    "The XML you provided was not well-formed or did not validate against our published schema")
# (NotImplemented: the trailing underscore leaves Python's own name alone)
NotImplemented_ = _error("NotImplemented", 501,
                         "A header you provided implies functionality that is not implemented.")
MissingContentLength = _error("MissingContentLength", 411,
                              "You must provide the Content-Length HTTP header.")
EntityTooLarge = _error("EntityTooLarge", 400,
                        "Your proposed upload exceeds the maximum allowed object size.")

# Bodies that are not what the request said they would be (:mod:`s3service.payload`).
RequestTimeout = _error(
    "RequestTimeout", 400,
    "Your socket connection to the server was not read from or written to within the "
    "timeout period. Idle connections will be closed.")
IncompleteBody = _error(
    "IncompleteBody", 400,
    "You did not provide the number of bytes specified by the Content-Length HTTP header")
InvalidDigest = _error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")
BadDigest = _error("BadDigest", 400,
                   "The Content-MD5 you specified did not match what we received.")

# Buckets.
InvalidBucketName = _error("InvalidBucketName", 400, "The specified bucket is not valid.")
NoSuchBucket = _error("NoSuchBucket", 404, "The specified bucket does not exist")
BucketAlreadyExists = _error(
    "BucketAlreadyExists", 409,
    "The requested bucket name is not available. The bucket namespace is shared by all users "
    "of the system. Please select a different name and try again.")
BucketAlreadyOwnedByYou = _error(
    "BucketAlreadyOwnedByYou", 409,
    "Your previous request to create the named bucket succeeded and you already own it.")
BucketNotEmpty = _error("BucketNotEmpty", 409,
                        "The bucket you tried to delete is not empty")
InvalidLocationConstraint = _error("InvalidLocationConstraint", 400,
                                   "The specified location-constraint is not valid")
IllegalLocationConstraintException = _error(
    "IllegalLocationConstraintException", 400,
    "The unspecified location constraint is incompatible for the region specific endpoint "
    "this request was sent to.")
TooManyBuckets = _error("TooManyBuckets", 400,
                        "You have attempted to create more buckets than allowed")

InvalidBucketState = _error("InvalidBucketState", 409,
                            "The request is not valid with the current state of the bucket.")
OperationAborted = _error(
    "OperationAborted", 409,
    "A conflicting conditional operation is currently in progress against this resource. "
    "Try again.")
NoSuchBucketPolicy = _error("NoSuchBucketPolicy", 404,
                            "The specified bucket does not have a bucket policy.")
NoSuchCORSConfiguration = _error("NoSuchCORSConfiguration", 404,
                                 "The CORS configuration does not exist")
NoSuchLifecycleConfiguration = _error("NoSuchLifecycleConfiguration", 404,
                                      "The lifecycle configuration does not exist.")
NoSuchTagSet = _error("NoSuchTagSet", 404, "The TagSet does not exist")
NoSuchWebsiteConfiguration = _error("NoSuchWebsiteConfiguration", 404,
                                    "The specified bucket does not have a website configuration")
ServerSideEncryptionConfigurationNotFoundError = _error(
    "ServerSideEncryptionConfigurationNotFoundError", 404,
    "The server side encryption configuration was not found")
MalformedACLError = _error(
    "MalformedACLError", 400,
    "The XML you provided was not well-formed or did not validate against our published schema.")
MalformedPolicy = _error("MalformedPolicy", 400, "Policies must be valid JSON.")
InvalidTag = _error("InvalidTag", 400, "The tag provided was not a valid tag.")

# Objects.
NoSuchKey = _error("NoSuchKey", 404, "The specified key does not exist.")
NoSuchVersion = _error(
    "NoSuchVersion", 404,
    "The specified version does not exist.")
KeyTooLongError = _error("KeyTooLongError", 400, "Your key is too long")
MetadataTooLarge = _error(
    "MetadataTooLarge", 400,
    "Your metadata headers exceed the maximum allowed metadata size.")
InvalidRange = _error("InvalidRange", 416, "The requested range is not satisfiable")
PreconditionFailed = _error("PreconditionFailed", 412,
                            "At least one of the pre-conditions you specified did not hold")
ConditionalRequestConflict = _error(
    "ConditionalRequestConflict", 409,
    "A conflicting operation occurred. If using PutObject you can retry the request. "
    "If using multipart upload you should initiate another CreateMultipartUpload request "
    "and re-upload each part.")
InvalidObjectState = _error("InvalidObjectState", 403,
                            "The operation is not valid for the object's storage class.")
InvalidStorageClass = _error("InvalidStorageClass", 400,
                             "The storage class you specified is not valid")
MissingRequestBodyError = _error("MissingRequestBodyError", 400, "Request Body is empty")
UnexpectedContent = _error("UnexpectedContent", 400,
                           "This request does not support content")
MaxMessageLengthExceeded = _error("MaxMessageLengthExceeded", 400,
                                  "Your request was too big.")
InvalidURI = _error("InvalidURI", 400, "Couldn't parse the specified URI.")
InvalidEncryptionAlgorithmError = _error(
    "InvalidEncryptionAlgorithmError", 400,
    "The encryption request you specified is not valid. The valid value is AES256.")

# Multipart uploads.
NoSuchUpload = _error(
    "NoSuchUpload", 404,
    "The specified upload does not exist. The upload ID may be invalid, or the upload may "
    "have been aborted or completed.")
InvalidPart = _error(
    "InvalidPart", 400,
    "One or more of the specified parts could not be found. The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag.")
InvalidPartOrder = _error(
    "InvalidPartOrder", 400,
    "The list of parts was not in ascending order. The parts list must be specified in "
    "order by part number.")
EntityTooSmall = _error("EntityTooSmall", 400,
                        "Your proposed upload is smaller than the minimum allowed object size.")

# Redirects to another endpoint (the answer says which, in ``Endpoint``).
PermanentRedirect = _error(
    "PermanentRedirect", 301,
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint.")
TemporaryRedirect = _error("TemporaryRedirect", 307,
                           "Please re-send this request to the specified temporary endpoint. "
                           "Continue to use the original request endpoint for future requests.")

# The service itself.
SlowDown = _error("SlowDown", 503, "Please reduce your request rate.")
InternalError = _error("InternalError", 500,
                       "We encountered an internal error. Please try again.")
ServiceUnavailable = _error("ServiceUnavailable", 503,
                            "Please reduce your request rate.")


# Errors whose fields are always the same: classes that say which.

class SignatureDoesNotMatch(S3Error):
    """``403``: the signature differs from the one computed here.

    The fields show the client what was signed here, so it can find where
    its own signing differs; pass ``string_to_sign`` and ``canonical_request``
    with any session token already blanked out.  ``canonical_request`` is
    SigV4's; SigV2 has none.
    """

    status = 403
    message = ("The request signature we calculated does not match the signature you provided. "
               "Check your key and signing method.")

    def __init__(self, *, access_key: str, string_to_sign: str, provided: str,
                 canonical_request: str | None = None) -> None:
        fields = {"AWSAccessKeyId": access_key, "StringToSign": string_to_sign,
                  "SignatureProvided": provided, "StringToSignBytes": _hex_bytes(string_to_sign)}
        if canonical_request is not None:
            fields["CanonicalRequest"] = canonical_request
            fields["CanonicalRequestBytes"] = _hex_bytes(canonical_request)
        super().__init__(**fields)


class RequestTimeTooSkewed(S3Error):
    """``403``: the request's date is further from the server's clock than allowed."""

    status = 403
    message = "The difference between the request time and the current time is too large."

    def __init__(self, *, request_time: str, server_time: str, max_skew_ms: int) -> None:
        super().__init__(RequestTime=request_time, ServerTime=server_time,
                         MaxAllowedSkewMilliseconds=max_skew_ms)


class MethodNotAllowed(S3Error):
    """``405``: the resource does not answer this method (the answer says which it does)."""

    status = 405
    message = "The specified method is not allowed against this resource."

    def __init__(self, *, method: str, resource_type: str) -> None:
        super().__init__(Method=method, ResourceType=resource_type)


def catalogue() -> list[type[S3Error]]:
    """Every error class of this module, sorted by code."""
    found = {cls for cls in globals().values()
             if isinstance(cls, type) and issubclass(cls, S3Error) and cls is not S3Error}
    return sorted(found, key=lambda cls: cls.code)


def _hex_bytes(text: str) -> str:
    """``text``'s UTF-8 bytes as space-separated two-digit hex, as S3 shows them."""
    return text.encode("utf-8", "surrogateescape").hex(" ")
