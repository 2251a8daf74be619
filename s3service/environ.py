"""The keys the middleware puts in a request's WSGI ``environ`` for the gateway behind it.

Import them rather than spelling the strings::

    from s3service.environ import AUTHORIZER_KEY, IDENTITY_KEY

    def gateway(environ, start_response):
        identity = environ.get(IDENTITY_KEY)          # None: an anonymous request
        if not environ[AUTHORIZER_KEY].is_allowed("s3:PutObject", "arn:aws:s3:::photos/cat"):
            raise AccessDenied()

With ``authenticate_all=True``, for every request passed on:

:data:`IDENTITY_KEY` (``"s3service.identity"``)
    the caller, an :class:`~s3service.identity.Identity`, or ``None`` for an
    anonymous request.
:data:`AUTHORIZER_KEY` (``"s3service.authorizer"``)
    for a signed request, a :class:`~s3service.authorization.RequestAuthorizer`:
    the middleware's authorizer bound to the caller and the request
    (``is_allowed(action, resource, **keys)``).
:data:`PAYLOAD_KEY` (``"s3service.payload"``)
    a :class:`~s3service.payload.PayloadReport`: what is checked of the body,
    and ``verified`` once the whole body is read and every check held.
:data:`REQUEST_ID_KEY` (``"s3service.request_id"``)
    the request's id, as in the ``x-amz-request-id`` header and the log
    (answer with it too).

With ``metrics``:

:data:`METRICS_KEY` (``"s3service.metrics"``)
    the :class:`~s3service.metrics.meter.Meter`; a gateway reports the
    storage it keeps with ``record_storage(...)`` (see :mod:`s3service.metrics`).
"""
from __future__ import annotations

from .envelope import AUTHORIZER_KEY, IDENTITY_KEY, REQUEST_ID_KEY
from .metrics.meter import METER_KEY as METRICS_KEY
from .payload.request import PAYLOAD_KEY

__all__ = ["AUTHORIZER_KEY", "IDENTITY_KEY", "METRICS_KEY", "PAYLOAD_KEY", "REQUEST_ID_KEY"]
