"""gunicorn settings for the s3service gateway, for those who serve it under gunicorn.

Run it with::

    S3SERVICE_DB=sqlite:///s3service.db gunicorn -c examples/gunicorn.conf.py

The app (``s3service.gateway.server:create_app()``) reads its store, region and
service host names from ``S3SERVICE_DB``, ``S3SERVICE_REGION`` and
``S3SERVICE_SERVICE_HOSTS``.  Command-line options win over this file
(``--bind 127.0.0.1:9000``).  ``s3service serve`` runs the same app under
granian, without a config file.

gunicorn's stock threaded worker hands a connection to a thread as soon as it
arrives, and that thread waits for the client: clients sending their request
slowly, or never finishing it, can hold every thread.  As gunicorn's own
documentation says, put a buffering proxy (nginx...) in front of it.
"""
import multiprocessing
import os

wsgi_app = "s3service.gateway.server:create_app()"

bind = os.environ.get("S3SERVICE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("S3SERVICE_WORKERS", min(4, multiprocessing.cpu_count())))
worker_class = "gthread"      # gunicorn's own threaded worker
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
