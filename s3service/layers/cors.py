"""The CORS layer: browsers' preflights answered from the bucket's rules, and the
``Access-Control-*`` headers on the answers of the cross-origin requests they allow.

Example::

    from s3service.hosts import ServiceHosts
    from s3service.layers.cors import CORSLayer

    app = CORSLayer(gateway_app, store, ServiceHosts(["s3.example.com"]))

``store`` is a :class:`~s3service.backends.protocols.CORSSource`: one method,
``bucket_cors(bucket)``, the bucket's :class:`~s3service.cors.CORSConfiguration`
or ``None`` (both bundled stores are one; a gateway with its own idea of a
bucket's rules brings its own).  Buckets are found as the rest of the
middleware finds them, path-style or virtual-hosted.

* ``OPTIONS`` on a bucket or an object is a preflight, which browsers never
  sign: it is answered here, before any authentication, as S3 does -- ``400
  BadRequest`` without ``Origin`` or ``Access-Control-Request-Method``, ``403
  CORSResponse`` when the bucket has no rules ("CORS is not enabled for this
  bucket.") or none allows that origin, method and every header of
  ``Access-Control-Request-Headers``, else ``200`` with the first matching
  rule's ``Access-Control-Allow-Origin``, ``-Methods``, ``-Headers``,
  ``-Expose-Headers``, ``-Max-Age``, ``-Allow-Credentials`` and ``Vary``.
* Any other request with an ``Origin`` header goes on to ``app``; when a rule
  allows that origin and method, its answer (an error too) gets the same
  headers, so that the browser lets the page read it.  Requests without
  ``Origin`` cost nothing here: the store is not asked.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from ..backends.protocols import CORSSource
from ..cors.errors import NOT_ENABLED, BadRequest, CORSResponse
from ..cors.rules import CORSConfiguration, actual_headers, preflight_headers
from ..envelope import REQUEST_ID_KEY, Exchange, Reply, StartResponse, WSGIApp, answer
from ..hosts import ServiceHosts

__all__ = ["CORSLayer"]

_NO_METHOD = "Invalid Access-Control-Request-Method: null"


class CORSLayer:
    """Answers preflights and adds CORS headers (see the module documentation)."""

    def __init__(self, app: WSGIApp, source: CORSSource, hosts: ServiceHosts) -> None:
        self.app = app
        self.source = source
        self.hosts = hosts

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method != "OPTIONS" and "HTTP_ORIGIN" not in environ:
            return self.app(environ, start_response)
        bucket = self.hosts.bucket_of(environ)
        if bucket is None:
            return self.app(environ, start_response)
        if method == "OPTIONS":
            return answer(environ, start_response, partial(self._preflight, bucket))
        return answer(environ, start_response, partial(self._cross_origin, bucket))

    def _rules(self, bucket: str) -> CORSConfiguration | None:
        return self.source.bucket_cors(bucket)

    def _preflight(self, bucket: str, exchange: Exchange) -> Reply:
        environ = exchange.environ
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            raise BadRequest()
        wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if not wanted:
            raise BadRequest(_NO_METHOD)
        requested = [name.strip() for name in
                     environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")
                     if name.strip()]
        configuration = self._rules(bucket)
        if configuration is None:
            raise CORSResponse(NOT_ENABLED)
        found = configuration.match(origin, wanted, requested)
        if found is None:
            raise CORSResponse()
        rule, pattern = found
        return Reply("200 OK", preflight_headers(rule, origin, pattern, requested), b"")

    def _cross_origin(self, bucket: str, exchange: Exchange) -> WSGIApp:
        environ = exchange.environ
        environ[REQUEST_ID_KEY] = exchange.request_id    # (one id for the whole request)
        configuration = self._rules(bucket)
        # (a request carrying Access-Control-Request-Method is matched by it, as s3-tests expect)
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") or exchange.method
        found = None if configuration is None else configuration.match(
            environ["HTTP_ORIGIN"], method)
        if found is None:
            return self.app
        headers = actual_headers(found[0], environ["HTTP_ORIGIN"], found[1])
        return partial(_with_headers, self.app, headers)


def _with_headers(app: WSGIApp, extra: list[tuple[str, str]], environ: dict,
                  start_response: StartResponse) -> Iterable[bytes]:
    """``app``, its answer carrying ``extra`` headers (in place of any of theirs it had)."""
    names = {name.lower() for name, _ in extra}

    def start(status: str, headers: list[tuple[str, str]], exc_info=None):
        kept = [(name, value) for name, value in headers if name.lower() not in names]
        return start_response(status, kept + extra, exc_info) if exc_info is not None \
            else start_response(status, kept + extra)

    return app(environ, start)
