"""Which checks a request's body gets, read from its headers; the environ set up for them.

:func:`verify_payload` is what the middleware calls once the request's
signature has been checked (``authenticate_all=True``).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..auth.sigv4 import SeedSignature
from ..errors import InvalidDigest, InvalidRequest, MissingContentLength
from ..wsgi import header
from .body import ExactBody, VerifiedInput
from .checks import Check, ChecksumCheck, Md5Check, Sha256Check
from .checksums import ALGORITHMS, HEADER_PREFIX, algorithm_of_header, decode_value
from .chunked import AwsChunkedBody, ChunkChain

__all__ = ["PAYLOAD_KEY", "PayloadReport", "verify_payload"]

#: Where the middleware leaves the :class:`PayloadReport` for the app behind it.
PAYLOAD_KEY = "s3service.payload"

SIGNED_CHUNKS = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_STREAMING = (SIGNED_CHUNKS, SIGNED_TRAILER, UNSIGNED_TRAILER)
_MULTIPLE = "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."


@dataclass
class PayloadReport:
    """What the middleware checks of a request's body, and whether it has yet.

    ``content_sha256``: the hex SHA-256 the body must have (``None`` when the
    body is ``UNSIGNED-PAYLOAD``, streamed, or signed with SigV2);
    ``content_md5``: the ``Content-MD5`` it must have (base64);
    ``checksum_algorithm`` and ``checksum``: an ``x-amz-checksum-*`` header's
    or trailer's algorithm (``"CRC32"``, ``"CRC32C"``, ``"CRC64NVME"``,
    ``"SHA1"``, ``"SHA256"``) and base64 value -- a trailer's value is known
    only once the body is read; ``streaming``: the ``x-amz-content-sha256``
    keyword of an ``aws-chunked`` body, whose decoded length
    ``decoded_length`` is.  ``verified`` turns ``True`` when the last byte has
    been read and every check has passed: only then may the gateway keep what
    it read (and store the checksum with the object).
    """

    content_sha256: str | None = None
    content_md5: str | None = None
    checksum_algorithm: str | None = None
    checksum: str | None = None
    streaming: str | None = None
    decoded_length: int | None = None
    verified: bool = False


def _content_md5(environ: dict) -> tuple[str, bytes] | None:
    value = header(environ, "content-md5")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidDigest(**{"Content-MD5": value})
    return value.strip(), raw


def _checksum_header(environ: dict) -> ChecksumCheck | None:
    """The body's ``x-amz-checksum-<algorithm>`` header, if it sent one."""
    found = None
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_CHECKSUM_") and isinstance(value, str):
            name = key[5:].lower().replace("_", "-")
            algorithm = algorithm_of_header(name)
            if algorithm is None:
                continue  # x-amz-checksum-type, -algorithm, ...: not a value
            if found is not None:
                raise InvalidRequest(_MULTIPLE)
            found = ChecksumCheck(algorithm, decode_value(algorithm, value, name), value.strip())
    return found


def _trailer_check(environ: dict) -> ChecksumCheck | None:
    declared = header(environ, "x-amz-trailer")
    if declared is None or not declared.strip():
        return None
    names = [name.strip().lower() for name in declared.split(",")]
    algorithm = algorithm_of_header(names[0]) if len(names) == 1 else None
    if algorithm is None:
        raise InvalidRequest("The value specified in the x-amz-trailer header is not supported")
    return ChecksumCheck(algorithm)


def _check_sdk_algorithm(environ: dict) -> None:
    value = header(environ, "x-amz-sdk-checksum-algorithm")
    if value is not None and value.strip().upper() not in ALGORITHMS.values():
        raise InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")


def _length(environ: dict, name: str) -> int | None:
    text = environ.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _without_aws_chunked(environ: dict) -> None:
    encodings = [e.strip() for e in (environ.get("HTTP_CONTENT_ENCODING") or "").split(",")]
    kept = [e for e in encodings if e and e.lower() != "aws-chunked"]
    if kept:
        environ["HTTP_CONTENT_ENCODING"] = ",".join(kept)
    else:
        environ.pop("HTTP_CONTENT_ENCODING", None)


def _completes_multipart(environ: dict) -> bool:
    # CompleteMultipartUpload's x-amz-checksum-* headers are the whole
    # object's, not its XML body's.
    return environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in (
        environ.get("QUERY_STRING") or "")


def verify_payload(environ: dict, seed: SeedSignature | None,
                   access_key: str | None) -> PayloadReport:
    """Put a verifying ``wsgi.input`` in ``environ`` for a request whose signature
    has been checked, and the :class:`PayloadReport` in ``environ["s3service.payload"]``.

    ``seed`` is the request's :class:`~s3service.auth.sigv4.SeedSignature`
    (``None`` unless it was signed with SigV4), ``access_key`` its signer's.
    Raises the :class:`~s3service.errors.S3Error` S3 answers for headers that
    cannot hold (a malformed ``Content-MD5``, two checksums...), and for an
    empty body that fails its checks.  A streamed body's ``CONTENT_LENGTH``
    becomes its decoded length and ``aws-chunked`` leaves ``Content-Encoding``.
    A ``PUT`` whose body's length is unknown (HTTP ``chunked``, no
    ``Content-Length``, not ``aws-chunked``) is ``411 MissingContentLength``,
    as S3 answers it: a gateway is always given the length of what is verified.
    """
    report = PayloadReport()
    environ[PAYLOAD_KEY] = report
    checks: list[Check] = []
    mode = header(environ, "x-amz-content-sha256")
    md5 = _content_md5(environ)
    if md5 is not None:
        report.content_md5 = md5[0]
        checks.append(Md5Check(md5[1]))
    _check_sdk_algorithm(environ)
    checksum = None if _completes_multipart(environ) else _checksum_header(environ)
    trailer = _trailer_check(environ) if mode in (SIGNED_TRAILER, UNSIGNED_TRAILER) else None
    if checksum is not None and trailer is not None:
        raise InvalidRequest(_MULTIPLE)
    checksum = checksum or trailer
    if checksum is not None:
        report.checksum_algorithm, report.checksum = checksum.algorithm, checksum.value
        checks.append(checksum)

    raw_length = _length(environ, "CONTENT_LENGTH")
    chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    if raw_length is None and not chunked:
        raw_length = 0  # (no body; with HTTP chunked encoding, the body ends at EOF)
    if raw_length is None and mode not in _STREAMING and environ.get("REQUEST_METHOD") == "PUT":
        # A length only the end of the body tells: a gateway going by
        # CONTENT_LENGTH would store nothing of what is verified here.
        raise MissingContentLength()
    raw = ExactBody(environ["wsgi.input"], raw_length)
    source: ExactBody | AwsChunkedBody = raw
    if mode in _STREAMING:
        decoded = _length(environ, "HTTP_X_AMZ_DECODED_CONTENT_LENGTH")
        if decoded is None or decoded < 0:
            raise MissingContentLength()
        chain = None
        if mode != UNSIGNED_TRAILER:
            if seed is None or access_key is None:
                raise InvalidRequest(f"{mode} needs a request signed with AWS4-HMAC-SHA256.")
            chain = ChunkChain(seed, access_key)

        def on_trailer(name: str, value: str) -> None:
            if trailer is not None:
                trailer.expect(decode_value(trailer.algorithm, value, name), value)

        source = AwsChunkedBody(raw, chain=chain, decoded_length=decoded,
                                trailers=frozenset() if trailer is None else
                                frozenset({HEADER_PREFIX + trailer.algorithm.lower()}),
                                on_trailer=on_trailer)
        report.streaming, report.decoded_length = mode, decoded
        environ["CONTENT_LENGTH"] = str(decoded)
        _without_aws_chunked(environ)
    elif mode is not None and len(mode) == 64:  # (hex, if SigV4 signed it; else a mismatch)
        report.content_sha256 = mode.lower()
        checks.insert(0, Sha256Check(mode))  # (a body that is not the one signed: said first)

    def verified() -> None:
        report.verified = True
        if checksum is not None:
            report.checksum = checksum.value

    if not checks and source is raw:
        report.verified = True  # nothing to check: the body passes as it is
        return report
    body = VerifiedInput(source, checks, verified)
    if source.at_end:  # an empty body is judged now
        body.read()
    else:
        environ["wsgi.input"] = body
    return report
