"""gunicorn settings for the s3service gateway.

Run it with::

    S3SERVICE_DB=sqlite:///s3service.db gunicorn -c examples/gunicorn.conf.py

The app (``s3service.gateway.server:create_app()``) reads its store, region and
service host names from ``S3SERVICE_DB``, ``S3SERVICE_REGION`` and
``S3SERVICE_SERVICE_HOSTS``.  Command-line options win over this file
(``--bind 127.0.0.1:9000``).  ``s3service serve`` does all this without a
config file.
"""
import multiprocessing
import os

wsgi_app = "s3service.gateway.server:create_app()"

bind = os.environ.get("S3SERVICE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("S3SERVICE_WORKERS", min(4, multiprocessing.cpu_count())))
# s3service's worker: slow clients hold no thread; any Expect value is accepted, as by S3
worker_class = "s3service.gateway.worker.Worker"
threads = 16
timeout = 30
graceful_timeout = 10
loglevel = "info"
accesslog = "-"              # one line per request on stdout
# ...with presigned URLs' signatures and session tokens redacted, client text escaped
logger_class = "s3service.gateway.logs.GunicornLogger"
proc_name = "s3service"

# Each worker opens its own database connections when it first needs them;
# loading the app after the fork (the default) keeps that simple.
preload_app = False

# gunicorn >= 25.1: no control socket at a fixed per-user path (two servers
# on one machine would fight over it).
control_socket_disable = True
