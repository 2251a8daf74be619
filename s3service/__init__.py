"""s3service: the service level of the S3 API as WSGI middleware.

Example::

    from s3service import S3ServiceMiddleware
    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store,
                              region="us-east-1", service_hosts=["s3.example.com"])

What a gateway uses is importable from here: the middleware, the caller's
:class:`Identity`, the authorizers, :class:`~s3service.errors.S3Error` (the
whole catalogue is :mod:`s3service.errors`) and the ``environ`` keys
(:mod:`s3service.environ`).  The stores are in :mod:`s3service.backends`,
the test helpers in :mod:`s3service.testing`.
"""
from .authorization import AllowAuthenticated, Authorizer, RequestAuthorizer, RequestContext
from .environ import AUTHORIZER_KEY, IDENTITY_KEY, METRICS_KEY, PAYLOAD_KEY, REQUEST_ID_KEY
from .errors import S3Error
from .identity import Identity
from .middleware import S3ServiceMiddleware
from .policies import PolicyAuthorizer

__version__ = "0.1.0"
__all__ = ["AUTHORIZER_KEY", "IDENTITY_KEY", "METRICS_KEY", "PAYLOAD_KEY", "REQUEST_ID_KEY",
           "AllowAuthenticated", "Authorizer", "Identity", "PolicyAuthorizer",
           "RequestAuthorizer", "RequestContext", "S3Error", "S3ServiceMiddleware",
           "__version__"]
