"""Service utilization metrics: metering every request, and ``POST /?Action=ListMetrics``.

Turn the feature on by giving the middleware a metrics store; both bundled
stores are one (:class:`~s3service.backends.memory.MemoryBackend` and
:class:`~s3service.backends.sql.SQLBackend`)::

    store = SQLBackend("postgresql+psycopg://...")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store, metrics=store,
                              metrics_flush_interval=10, metrics_admins=["<operator id>"])

Then:

* every request through the middleware is counted under its S3 operation name
  as the Service Utilization API (UTAPI) names it (``s3:PutObject``,
  ``s3:ListAllMyBuckets``... see :data:`OPERATIONS` and :func:`classify`),
  with the request body bytes the gateway actually reads (incoming) and the
  response bytes sent (outgoing), in 15-minute intervals, for the service
  ``s3`` and -- only when the middleware checked its signature: ListBuckets,
  and every request with ``authenticate_all=True`` -- its account, its user (the
  IAM user's name; a root key counts as the user named by the account's ID)
  and its bucket (path-style or virtual-hosted), if the bucket exists and is
  the caller's account's when the counts are written (a bucket's counts are
  its owner's: ``Entity.bucket(name, owner)``).  Unchecked requests count for
  the service only, never for the account they claim.  Counts are added up
  in the process and written to the store in batches (:class:`Meter`): every
  ``metrics_flush_interval`` seconds, when 10000 requests are pending, and at
  exit.  So the totals a fleet reports lag by up to that interval.  Request
  counts older than ``metrics_retention_days`` (400) are removed.
* the gateway can report what it stores, through the meter it finds in
  ``environ["s3service.metrics"]``::

      meter = environ["s3service.metrics"]
      meter.record_storage(len(body), 1, bucket="photos", account=owner_id)  # an object stored
      meter.record_storage(-size, -1, bucket="photos", account=owner_id)     # one deleted

  A report counts for the bucket, the account owning it and the service.

* a UTAPI client sends a SigV4-signed ``POST /?Action=ListMetrics`` (or
  ``ListRecentMetrics``, the last 15 minutes) with a JSON body
  ``{"timeRange": [start, end], "service": ["s3"]}`` (epoch milliseconds; start
  on a 15-minute boundary, end on the last millisecond of one, end optional)
  -- or ``"accounts": [ids]``, ``"users": [names or IAM ARNs]`` or
  ``"buckets": [names]`` instead of ``"service"`` -- and gets a JSON array
  with one entry per name: ``serviceName`` (``accountId``, ``userName``,
  ``bucketName``), ``timeRange``, ``storageUtilized`` and ``numberOfObjects``
  (at the start and at the end), ``incomingBytes``, ``outgoingBytes`` and
  ``operations``.  Unknown names answer zeros.  A caller reads its own
  account, its account's users and the buckets it owns; any other account's
  are ``AccessDenied``, and the service level is for the ``metrics_admins``
  accounts only (who may also read any account, user and bucket).  Each is
  then put to the middleware's authorizer as ``utapi:ListMetrics`` on
  ``arn:scality:utapi:::service/s3`` or
  ``arn:scality:utapi::ACCOUNT:{accounts,users,buckets}/NAME``.

Without a metrics store nothing is metered and ``POST /`` goes to the gateway.

A store of your own implements :class:`MetricsStore` (two methods).
"""
from .meter import METER_KEY, Meter
from .operations import LIST_ALL_MY_BUCKETS, OPERATIONS, classify
from ..backends.metrics_base import INTERVAL_MS, LEVELS, Entity, MetricsTotals, interval_start
from ..backends.protocols import MetricsStore

__all__ = [
    "INTERVAL_MS", "LEVELS", "LIST_ALL_MY_BUCKETS", "METER_KEY", "OPERATIONS", "Entity",
    "Meter", "MetricsStore", "MetricsTotals", "classify", "interval_start",
]
