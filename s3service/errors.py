"""S3 errors: one class per error code, each rendering S3's ``<Error>`` document.

Raise an instance anywhere in request handling; the middleware answers it with
the code's HTTP status and XML body, adding ``RequestId`` and ``HostId``::

    raise SignatureDoesNotMatch(AWSAccessKeyId=key, StringToSign=sts)

Keyword arguments become extra child elements of ``<Error>``, in order.  Never
pass a secret: everything given here is sent to the client.

A class's name is its S3 error code unless it says otherwise (``code``).
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


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 411: "Length Required", 413: "Request Entity Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}

# Authentication and authorization.

class AccessDenied(S3Error):
    status = 403
    message = "Access Denied"


class InvalidAccessKeyId(S3Error):
    status = 403
    message = "The AWS Access Key Id you provided does not exist in our records."


class SignatureDoesNotMatch(S3Error):
    status = 403
    message = ("The request signature we calculated does not match the signature you provided. "
               "Check your key and signing method.")


class AuthorizationHeaderMalformed(S3Error):
    status = 400
    message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    status = 400
    message = "Error parsing the X-Amz-Credential parameter."


class RequestTimeTooSkewed(S3Error):
    status = 403
    message = "The difference between the request time and the current time is too large."


class InvalidToken(S3Error):
    status = 400
    message = "The provided token is malformed or otherwise invalid."


class ExpiredToken(S3Error):
    status = 400
    message = "The provided token has expired."


class MissingSecurityHeader(S3Error):
    status = 400
    message = "Your request was missing a required header."


class XAmzContentSHA256Mismatch(S3Error):
    status = 400
    message = "The provided 'x-amz-content-sha256' header does not match what was computed."



# Malformed requests.

class InvalidArgument(S3Error):
    status = 400
    message = "Invalid Argument"


class InvalidRequest(S3Error):
    status = 400
    message = "Invalid Request"


class MalformedXML(S3Error):
    status = 400
    message = "The XML you provided was not well-formed or did not validate against our published schema"


class MethodNotAllowed(S3Error):
    status = 405
    message = "The specified method is not allowed against this resource."


class NotImplemented_(S3Error):
    """``NotImplemented`` (the trailing underscore keeps Python's own name free)."""

    code = "NotImplemented"
    status = 501
    message = "A header you provided implies functionality that is not implemented."


class MissingContentLength(S3Error):
    status = 411
    message = "You must provide the Content-Length HTTP header."


class EntityTooLarge(S3Error):
    status = 400
    message = "Your proposed upload exceeds the maximum allowed object size."



# Buckets.

class InvalidBucketName(S3Error):
    status = 400
    message = "The specified bucket is not valid."


class NoSuchBucket(S3Error):
    status = 404
    message = "The specified bucket does not exist"


class BucketAlreadyExists(S3Error):
    status = 409
    message = ("The requested bucket name is not available. The bucket namespace is shared by all users "
               "of the system. Please select a different name and try again.")


class BucketAlreadyOwnedByYou(S3Error):
    status = 409
    message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(S3Error):
    status = 409
    message = "The bucket you tried to delete is not empty"


class InvalidLocationConstraint(S3Error):
    status = 400
    message = "The specified location-constraint is not valid"


class IllegalLocationConstraintException(S3Error):
    status = 400
    message = ("The unspecified location constraint is incompatible for the region specific endpoint "
               "this request was sent to.")



# The service itself.

class InternalError(S3Error):
    status = 500
    message = "We encountered an internal error. Please try again."


class ServiceUnavailable(S3Error):
    status = 503
    message = "Please reduce your request rate."
