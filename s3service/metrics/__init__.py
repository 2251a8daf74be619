"""Service utilization metrics: metering every request, and ``POST /?Action=ListMetrics``.

Turn the feature on by giving the middleware a metrics store; both bundled
stores are one (:class:`~s3service.backends.memory.MemoryBackend` and
:class:`~s3service.backends.sql.SQLBackend`)::

    store = SQLBackend("postgresql+psycopg://...")
    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store, metrics=store,
                              metrics_flush_interval=10)

Then:

* every request through the middleware is counted under its S3 operation name
  as the Service Utilization API (UTAPI) names it (``s3:PutObject``,
  ``s3:ListAllMyBuckets``... see :data:`OPERATIONS` and :func:`classify`),
  with the request body bytes the gateway actually reads (incoming) and the
  response bytes sent (outgoing), in 15-minute intervals.  Counts are added up
  in the process and written to the store in batches (:class:`Meter`): every
  ``metrics_flush_interval`` seconds, when 10000 requests are pending, and at
  exit.  So the totals a fleet reports lag by up to that interval.
* the gateway can report what it stores, through the meter it finds in
  ``environ["s3service.metrics"]``::

      environ["s3service.metrics"].record_storage(len(body), 1)    # an object stored
      environ["s3service.metrics"].record_storage(-size, -1)       # one deleted

* a UTAPI client sends a SigV4-signed ``POST /?Action=ListMetrics`` (or
  ``ListRecentMetrics``, the last 15 minutes) with a JSON body
  ``{"timeRange": [start, end], "service": ["s3"]}`` (epoch milliseconds; start
  on a 15-minute boundary, end on the last millisecond of one, end optional)
  and gets a JSON array with one entry per service: ``serviceName``,
  ``timeRange``, ``storageUtilized`` and ``numberOfObjects`` (at the start and
  at the end), ``incomingBytes``, ``outgoingBytes`` and ``operations``.  The
  caller must be allowed ``utapi:ListMetrics`` on
  ``arn:scality:utapi:::service/s3`` by the middleware's authorizer.

Without a metrics store nothing is metered and ``POST /`` goes to the gateway.

A store of your own implements :class:`MetricsStore` (two methods).
"""
from .meter import METER_KEY, CountingInput, Meter
from .operations import LIST_ALL_MY_BUCKETS, OPERATIONS, classify
from ..backends.metrics_base import INTERVAL_MS, MetricsStore, MetricsTotals, interval_start

__all__ = [
    "INTERVAL_MS", "LIST_ALL_MY_BUCKETS", "METER_KEY", "OPERATIONS", "CountingInput",
    "Meter", "MetricsStore", "MetricsTotals", "classify", "interval_start",
]
