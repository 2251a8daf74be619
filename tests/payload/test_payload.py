"""The payload verifier, without a server: each check, the chunk chain, the failures S3 answers."""
from __future__ import annotations

import base64
import hashlib
import io

import pytest

from tests.helpers.awschunked import ChunkSigner, crc32_b64, derived_key, encode
from s3service.auth.sigv4 import SeedSignature, signing_key
from s3service.errors import (BadDigest, IncompleteBody, InvalidDigest, InvalidRequest,
                              MissingContentLength, S3Error, SignatureDoesNotMatch,
                              XAmzContentSHA256Mismatch)
from s3service.payload import PAYLOAD_KEY, verify_payload
from s3service.payload.checksums import new_checksum
from tests.helpers.wsgi import call as _call

# The worked example of S3's "Transferring Payload in Multiple Chunks" page.
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_DATE, DOC_SCOPE = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
DOC_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_SIGNATURES = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                  "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                  "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
DOC_KEY = signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
SEED = SeedSignature(DOC_KEY, DOC_DATE, DOC_SCOPE, DOC_SEED)


def doc_body() -> bytes:
    body = b""
    for size, sig in zip((65536, 1024, 0), DOC_SIGNATURES):
        body += f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n"
    return body


def environ_for(body: bytes, **headers: str) -> dict:
    environ = {"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body))}
    for name, value in headers.items():
        key = name.upper()
        environ[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key] = value
    return environ


def signer() -> ChunkSigner:
    return ChunkSigner(derived_key(DOC_SECRET, "20130524", "us-east-1"), DOC_DATE, DOC_SCOPE,
                       DOC_SEED)


def read_all(environ: dict, size: int = 4096) -> bytes:
    out = []
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(size)
        if not piece:
            return b"".join(out)
        out.append(piece)


def read_exactly(stream, size: int) -> bytes:
    out = b""
    while len(out) < size:
        piece = stream.read(size - len(out))
        assert piece
        out += piece
    return out


def streaming(body: bytes, decoded: int, mode: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
              **headers: str) -> dict:
    environ = environ_for(body, X_AMZ_CONTENT_SHA256=mode,
                          X_AMZ_DECODED_CONTENT_LENGTH=str(decoded),
                          CONTENT_ENCODING="aws-chunked", **headers)
    verify_payload(environ, SEED, "AKIDEXAMPLE")
    return environ


def test_aws_documented_example_verifies():
    environ = streaming(doc_body(), 66560)
    assert environ["CONTENT_LENGTH"] == "66560"
    assert "HTTP_CONTENT_ENCODING" not in environ
    assert read_all(environ, 1000) == b"a" * 66560
    assert environ[PAYLOAD_KEY].verified


def test_helper_signs_as_the_documentation():
    # The test's own encoder agrees with the documented signatures.
    assert encode(b"a" * 66560, 65536, signer()) == doc_body()


@pytest.mark.parametrize("flip", [100, 65536 + 200])
def test_flipped_data_byte_is_signature_does_not_match(flip):
    body = bytearray(doc_body())
    at = body.index(b"\r\n") + 2 + flip if flip < 65536 else len(body) - 300
    body[at] ^= 1
    environ = streaming(bytes(body), 66560)
    with pytest.raises(SignatureDoesNotMatch) as info:
        read_all(environ)
    assert info.value.fields["AWSAccessKeyId"] == "AKIDEXAMPLE"
    assert not environ[PAYLOAD_KEY].verified


def test_flipped_chunk_signature_is_refused_by_the_read_ending_the_chunk():
    body = doc_body().replace(DOC_SIGNATURES[0][:8].encode(), b"00000000", 1)
    stream = streaming(body, 66560)["wsgi.input"]
    assert read_exactly(stream, 65535) == b"a" * 65535  # not yet at the chunk's end
    with pytest.raises(SignatureDoesNotMatch):
        stream.read(1)
    with pytest.raises(SignatureDoesNotMatch):  # and again on every later read
        stream.read(1)


def test_wrong_final_signature_fails_before_the_last_bytes_are_returned():
    body = doc_body().replace(DOC_SIGNATURES[2].encode(), b"f" * 64)
    stream = streaming(body, 66560)["wsgi.input"]
    assert read_exactly(stream, 66559) == b"a" * 66559
    with pytest.raises(SignatureDoesNotMatch):
        stream.read(10)  # the last byte: the final chunk is checked first


def test_short_body_is_incomplete():
    body = doc_body()[:-5000]
    environ = streaming(body, 66560)
    with pytest.raises(IncompleteBody) as info:
        read_all(environ)
    assert info.value.status == 400


def test_decoded_length_larger_than_chunks_is_incomplete():
    with pytest.raises(IncompleteBody):
        read_all(streaming(doc_body(), 70000))


def test_streaming_without_decoded_length():
    environ = environ_for(doc_body(), X_AMZ_CONTENT_SHA256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    with pytest.raises(MissingContentLength):
        verify_payload(environ, SEED, "AKIDEXAMPLE")


@pytest.mark.parametrize("head", [b"zz;chunk-signature=", b"10000\r\n", b"10000;foo="])
def test_malformed_framing_is_invalid_request(head):
    body = doc_body()
    body = head + body[body.index(b"chunk-signature=") + 16:] if head.endswith(b"=") else \
        head + body[body.index(b"\r\n") + 2:]
    with pytest.raises(InvalidRequest):
        read_all(streaming(body, 66560))


def test_hex_sha256_mismatch_is_raised_by_the_read_reaching_the_end():
    data = b"x" * 10000
    environ = environ_for(data, X_AMZ_CONTENT_SHA256=hashlib.sha256(b"y").hexdigest())
    verify_payload(environ, None, None)
    stream = environ["wsgi.input"]
    assert stream.read(9999) == data[:9999]
    with pytest.raises(XAmzContentSHA256Mismatch) as info:
        stream.read(1)
    assert info.value.fields["S3ComputedContentSHA256"] == hashlib.sha256(data).hexdigest()


def test_hex_sha256_match_reads_through_readline_and_iteration():
    data = b"line one\nline two\n" * 5000 + b"tail"
    environ = environ_for(data, X_AMZ_CONTENT_SHA256=hashlib.sha256(data).hexdigest())
    report = verify_payload(environ, None, None)
    stream = environ["wsgi.input"]
    assert stream.readline() == b"line one\n"
    assert b"".join(stream) == data[9:]
    assert report.verified and report.content_sha256 == hashlib.sha256(data).hexdigest()


def test_empty_body_is_judged_at_once():
    environ = environ_for(b"", X_AMZ_CONTENT_SHA256=hashlib.sha256(b"x").hexdigest())
    with pytest.raises(XAmzContentSHA256Mismatch):
        verify_payload(environ, None, None)


def test_unsigned_payload_passes_unchanged():
    environ = environ_for(b"abc", X_AMZ_CONTENT_SHA256="UNSIGNED-PAYLOAD")
    raw = environ["wsgi.input"]
    assert verify_payload(environ, None, None).verified
    assert environ["wsgi.input"] is raw


def test_content_md5():
    data = b"hello md5"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    environ = environ_for(data, CONTENT_MD5=good)
    assert verify_payload(environ, None, None).content_md5 == good
    assert environ["wsgi.input"].read() == data
    environ = environ_for(data, CONTENT_MD5=base64.b64encode(hashlib.md5(b"x").digest()).decode())
    verify_payload(environ, None, None)
    with pytest.raises(BadDigest) as info:
        environ["wsgi.input"].read()
    assert info.value.fields["CalculatedDigest"] == good
    with pytest.raises(InvalidDigest):
        verify_payload(environ_for(data, CONTENT_MD5="not-md5"), None, None)


# Checksums of b"123456789", the usual CRC check value, from the CRC catalogues.
CHECK = b"123456789"
CHECK_VALUES = {"CRC32": 0xCBF43926.to_bytes(4, "big"), "CRC32C": 0xE3069283.to_bytes(4, "big"),
                "CRC64NVME": 0xAE8B14860A799888.to_bytes(8, "big"),
                "SHA1": hashlib.sha1(CHECK).digest(), "SHA256": hashlib.sha256(CHECK).digest()}


@pytest.mark.parametrize("algorithm", sorted(CHECK_VALUES))
def test_checksum_algorithms_give_the_catalogue_values(algorithm):
    checksum = new_checksum(algorithm)
    checksum.update(CHECK[:4])
    checksum.update(CHECK[4:])
    assert checksum.digest() == CHECK_VALUES[algorithm]


@pytest.mark.parametrize("algorithm", sorted(CHECK_VALUES))
def test_checksum_header_verified(algorithm):
    name = "X_AMZ_CHECKSUM_" + algorithm
    value = base64.b64encode(CHECK_VALUES[algorithm]).decode()
    environ = environ_for(CHECK, **{name: value})
    report = verify_payload(environ, None, None)
    assert environ["wsgi.input"].read() == CHECK
    assert (report.checksum_algorithm, report.checksum, report.verified) == \
        (algorithm, value, True)
    environ = environ_for(CHECK[:-1] + b"0", **{name: value})
    verify_payload(environ, None, None)
    with pytest.raises(BadDigest, match=f"The {algorithm} you specified did not match"):
        environ["wsgi.input"].read()


def test_two_checksum_headers_are_refused():
    value = crc32_b64(CHECK)
    with pytest.raises(InvalidRequest, match="Multiple checksum"):
        verify_payload(environ_for(CHECK, X_AMZ_CHECKSUM_CRC32=value,
                                   X_AMZ_CHECKSUM_SHA1=base64.b64encode(b"x" * 20).decode()),
                       None, None)


def test_malformed_checksum_value_is_refused():
    with pytest.raises(InvalidRequest, match="x-amz-checksum-crc32"):
        verify_payload(environ_for(CHECK, X_AMZ_CHECKSUM_CRC32="AAAA"), None, None)


def test_unknown_sdk_algorithm_is_refused():
    with pytest.raises(InvalidRequest):
        verify_payload(environ_for(CHECK, X_AMZ_SDK_CHECKSUM_ALGORITHM="MD4"), None, None)


DATA = bytes(range(256)) * 300


def test_unsigned_trailer_verified():
    body = encode(DATA, 8192, trailer=("x-amz-checksum-crc32", crc32_b64(DATA)))
    environ = streaming(body, len(DATA), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                        X_AMZ_TRAILER="x-amz-checksum-crc32")
    report = environ[PAYLOAD_KEY]
    assert report.checksum is None  # not known before the trailer
    assert read_all(environ, 5000) == DATA
    assert (report.checksum_algorithm, report.checksum) == ("CRC32", crc32_b64(DATA))


def test_unsigned_trailer_with_wrong_checksum_is_bad_digest():
    body = encode(DATA, 8192, trailer=("x-amz-checksum-crc32", crc32_b64(b"other")))
    environ = streaming(body, len(DATA), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                        X_AMZ_TRAILER="x-amz-checksum-crc32")
    with pytest.raises(BadDigest, match="The CRC32 you specified did not match the calculated"):
        read_all(environ)


def test_signed_trailer_verified_and_tampered():
    body = encode(DATA, 8192, signer(), trailer=("x-amz-checksum-crc32", crc32_b64(DATA)))
    environ = streaming(body, len(DATA), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                        X_AMZ_TRAILER="x-amz-checksum-crc32")
    assert read_all(environ) == DATA
    assert environ[PAYLOAD_KEY].verified
    # A trailer changed after signing: its signature no longer holds.
    forged = body.replace(crc32_b64(DATA).encode(), crc32_b64(b"other").encode())
    environ = streaming(forged, len(DATA), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                        X_AMZ_TRAILER="x-amz-checksum-crc32")
    with pytest.raises(SignatureDoesNotMatch):
        read_all(environ)


def test_undeclared_or_unknown_trailer_is_refused():
    body = encode(DATA, 8192, trailer=("x-amz-checksum-sha1", "x"))
    with pytest.raises(InvalidRequest):
        read_all(streaming(body, len(DATA), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                           X_AMZ_TRAILER="x-amz-checksum-crc32"))
    with pytest.raises(InvalidRequest, match="x-amz-trailer"):
        streaming(body, len(DATA), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                  X_AMZ_TRAILER="x-amz-checksum-md4")


@pytest.mark.parametrize("mode", ["STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"])
def test_a_trailer_given_twice_is_refused(mode):
    sign = signer() if "HMAC" in mode else None
    body = encode(DATA, 8192, sign, trailer=("x-amz-checksum-crc32", crc32_b64(DATA)))
    # The same trailer again, after the first (and, signed, after its signature).
    doubled = body[:-2] + f"x-amz-checksum-crc32:{crc32_b64(b'other')}\r\n\r\n".encode()
    environ = streaming(doubled, len(DATA), mode, X_AMZ_TRAILER="x-amz-checksum-crc32")
    with pytest.raises(InvalidRequest, match="given twice"):
        read_all(environ)
    assert not environ[PAYLOAD_KEY].verified

def test_signed_chunks_need_a_sigv4_signature():
    environ = environ_for(doc_body(), X_AMZ_CONTENT_SHA256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                          X_AMZ_DECODED_CONTENT_LENGTH="66560")
    with pytest.raises(InvalidRequest):
        verify_payload(environ, None, None)


def test_errors_are_s3_errors_with_status_400():
    for error in (IncompleteBody(), InvalidDigest(), BadDigest(), XAmzContentSHA256Mismatch()):
        assert isinstance(error, S3Error) and error.status == 400


# -- through the middleware (in process) ------------------------------------------------

def _store():
    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    store.add_account("111122223333", display_name="alice")
    store.add_key("111122223333", "AKIDPAYLOAD", "payload-secret")
    return store


def _reading_gateway(environ, start_response):
    """Reads the whole body, then answers 200 with it (an error propagates)."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def test_middleware_answers_a_swapped_body_with_s3_error():
    from tests.helpers.signing import signed_environ

    from s3service import S3ServiceMiddleware

    store = _store()
    app = S3ServiceMiddleware(_reading_gateway, credentials=store, buckets=store,
                              authenticate_all=True)
    environ = signed_environ("PUT", "http://s3.example.com/b/k", "AKIDPAYLOAD", "payload-secret",
                             body=b"body X")
    status, headers, body = _call(app, dict(environ))
    assert status.startswith("200") and body == b"body X"
    environ["wsgi.input"] = io.BytesIO(b"body Y")
    status, headers, body = _call(app, environ)
    assert status == "400 Bad Request"
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in body
    assert f"<RequestId>{headers['x-amz-request-id']}</RequestId>".encode() in body


def test_middleware_answers_an_error_raised_when_a_generator_gateway_is_iterated():
    from tests.helpers.signing import signed_environ

    from s3service import S3ServiceMiddleware

    closed = []

    def lazy_gateway(environ, start_response):
        try:
            body = environ["wsgi.input"].read()  # only once iterated
            start_response("200 OK", [("Content-Length", str(len(body)))])
            yield body
        finally:
            closed.append(True)

    store = _store()
    app = S3ServiceMiddleware(lazy_gateway, credentials=store, buckets=store,
                              authenticate_all=True)
    environ = signed_environ("PUT", "http://s3.example.com/b/k", "AKIDPAYLOAD", "payload-secret",
                             body=b"body X")
    good = dict(environ, **{"wsgi.input": io.BytesIO(b"body X")})
    status, _, body = _call(app, good)
    assert status.startswith("200") and body == b"body X"
    environ["wsgi.input"] = io.BytesIO(b"body Y")
    status, _, body = _call(app, environ)
    assert status == "400 Bad Request"
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in body
    assert closed == [True, True]


def test_trailer_body_of_unknown_length():
    # As boto3 sends it over HTTPS: HTTP chunked transfer encoding, no Content-Length.
    body = encode(DATA, 8192, trailer=("x-amz-checksum-crc32", crc32_b64(DATA)))
    environ = streaming(body, len(DATA), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                        X_AMZ_TRAILER="x-amz-checksum-crc32")
    assert read_all(environ) == DATA
    environ = environ_for(body, X_AMZ_CONTENT_SHA256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                          X_AMZ_DECODED_CONTENT_LENGTH=str(len(DATA)),
                          X_AMZ_TRAILER="x-amz-checksum-crc32", TRANSFER_ENCODING="chunked")
    del environ["CONTENT_LENGTH"]
    verify_payload(environ, None, None)
    assert read_all(environ, 3000) == DATA and environ[PAYLOAD_KEY].verified
    environ = environ_for(body + b"extra",
                          X_AMZ_CONTENT_SHA256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                          X_AMZ_DECODED_CONTENT_LENGTH=str(len(DATA)),
                          X_AMZ_TRAILER="x-amz-checksum-crc32", TRANSFER_ENCODING="chunked")
    del environ["CONTENT_LENGTH"]
    verify_payload(environ, None, None)
    with pytest.raises(InvalidRequest, match="follows the final chunk"):
        read_all(environ)


@pytest.mark.parametrize("mode", ["UNSIGNED-PAYLOAD", hashlib.sha256(DATA).hexdigest(), None])
def test_put_of_unknown_length_is_missing_content_length(mode):
    """HTTP chunked and no Content-Length: a gateway reading CONTENT_LENGTH bytes would
    store none of a body the middleware went on to verify whole."""
    headers = {"TRANSFER_ENCODING": "chunked"}
    if mode is not None:
        headers["X_AMZ_CONTENT_SHA256"] = mode
    environ = environ_for(DATA, **headers)
    del environ["CONTENT_LENGTH"]
    with pytest.raises(MissingContentLength):
        verify_payload(environ, None, None)
    environ = environ_for(DATA, **headers)    # (with its length: read and checked)
    verify_payload(environ, None, None)
    assert read_all(environ) == DATA and environ[PAYLOAD_KEY].verified


def test_post_of_unknown_length_is_read_to_its_end():
    """CompleteMultipartUpload, DeleteObjects: S3 takes their bodies chunked."""
    environ = environ_for(DATA, TRANSFER_ENCODING="chunked",
                          X_AMZ_CONTENT_SHA256=hashlib.sha256(DATA).hexdigest())
    environ["REQUEST_METHOD"] = "POST"
    del environ["CONTENT_LENGTH"]
    verify_payload(environ, None, None)
    assert read_all(environ) == DATA and environ[PAYLOAD_KEY].verified
