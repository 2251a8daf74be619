"""s3service: the service level of the S3 API as WSGI middleware.

Example::

    from s3service import S3ServiceMiddleware
    from s3service.backends.memory import MemoryBackend

    store = MemoryBackend()
    store.add_account("79a59df9...", display_name="Test")
    store.add_key("79a59df9...", "AKIDEXAMPLE", "secret")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store,
                              region="us-east-1", service_hosts=["s3.example.com"])
"""
from .identity import Identity
from .middleware import S3ServiceMiddleware

__version__ = "0.1.0"
__all__ = ["Identity", "S3ServiceMiddleware", "__version__"]
