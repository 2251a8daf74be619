"""The product built on the library: a small gateway, ``s3service serve``, the command line.

Everything under this package uses :mod:`s3service` the way a user's gateway
would; nothing in the library imports it.

* :mod:`.app` -- the gateway: S3's bucket-level operations on the middleware's store;
* :mod:`.server` -- running it under granian (``s3service serve``), or any WSGI server (``create_app()``);
* :mod:`.cli` -- the ``s3service`` command; :mod:`.admin` -- what its store commands do.

Example::

    from s3service.backends.memory import MemoryBackend
    from s3service.gateway import make_app

    store = MemoryBackend()
    app = make_app(store, region="us-east-1", service_hosts=["s3.example.com"])
"""
from .app import Gateway, app_factory, make_app

__all__ = ["Gateway", "app_factory", "make_app"]
