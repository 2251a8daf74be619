"""Testing a gateway behind the middleware: signed requests in-process, a throw-away store.

Install with ``pip install 's3service[testing]'`` (webtest and botocore).
:class:`S3TestApp` is webtest's ``TestApp`` signing every request as an S3
client does (SigV4 or SigV2, header or presigned, the body's SHA-256,
``UNSIGNED-PAYLOAD`` or an ``aws-chunked`` body), for the ``Host`` the
middleware is told about; :func:`sandbox` makes a store with an account, its
root key and an IAM user's key::

    from s3service import S3ServiceMiddleware
    from s3service.testing import S3TestApp, error_code, sandbox

    def test_an_iam_user_without_a_policy_may_not_write():
        world = sandbox()
        app = S3ServiceMiddleware(my_gateway, credentials=world.store, buckets=world.store,
                                  service_hosts=["s3.example.com"], authenticate_all=True)
        root = S3TestApp(app, world.root)
        assert root.put("/photos/cat.jpg", b"meow").status_int == 200
        user = S3TestApp(app, world.user)
        answer = user.put("/photos/cat.jpg", b"woof", expect_errors=True)
        assert (answer.status_int, error_code(answer)) == (403, "AccessDenied")

The pieces: :mod:`.app` (the test app), :mod:`.signing` (signing one request,
usable with any HTTP client), :mod:`.chunked` (``aws-chunked`` bodies),
:mod:`.sandbox` (the store).
"""
from .app import S3TestApp, error_code
from .chunked import encode_chunked
from .sandbox import Keys, Sandbox, new_keys, sandbox
from .signing import PAYLOADS, SignedRequest, sign

__all__ = ["PAYLOADS", "Keys", "S3TestApp", "Sandbox", "SignedRequest", "encode_chunked",
           "error_code", "new_keys", "sandbox", "sign"]
