"""The layers of the request path, one small WSGI middleware per module.

In the order a request crosses them (:mod:`s3service.middleware` puts them
together): :mod:`.metering`, :mod:`.service` (ListBuckets, ListMetrics),
:mod:`.authentication` (with :mod:`.apperrors`), then the gateway's app.
Each takes the app behind it first and can be used, and tested, alone.
"""
