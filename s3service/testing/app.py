"""``S3TestApp``: webtest's ``TestApp`` whose requests are signed as an S3 client signs them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ..hosts import split_host
from ..regions import DEFAULT_REGION
from .sandbox import Keys
from .signing import sign

try:
    from webtest import TestApp
except ImportError as exc:         # pragma: no cover - the extra is missing
    raise ImportError("s3service.testing needs webtest: pip install 's3service[testing]'",
                      name=exc.name) from None

__all__ = ["S3TestApp", "error_code"]

DEFAULT_HOST = "s3.example.com"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class S3TestApp(TestApp):  # type: ignore[misc]
    """A webtest ``TestApp`` sending every request signed with ``keys``.

    ``get``, ``put``, ``post``, ``delete``, ``head``... are webtest's, signed
    with SigV4 (``signature="v2"`` for SigV2) for ``host`` -- the ``Host``
    header the app sees is exactly the one signed (``s3.example.com``, not
    webtest's ``localhost:80``)::

        app = S3TestApp(middleware, keys=world.root)
        app.put("/photos")                                  # CreateBucket
        app.put("/photos/cat.jpg", b"meow")
        assert app.get("/photos/cat.jpg").body == b"meow"

    :meth:`s3` sends one request with every choice: other keys or none
    (anonymous), a presigned URL, another payload hash (``UNSIGNED-PAYLOAD``, an
    ``aws-chunked`` streaming body), a virtual-hosted bucket host.  As with
    webtest, an error status raises unless ``status`` or ``expect_errors``
    says it is expected; :func:`error_code` reads an S3 error's ``Code``.

    :param app: the WSGI app (the middleware in front of a gateway).
    :param keys: signs each request (``None``: requests go unsigned).
    :param region: the region signed for (the middleware's ``region``).
    :param host: the service host requests go to (``photos.<host>`` for
        virtual-hosted bucket requests); may carry a port (``localhost:8000``).
    :param scheme: ``http`` or ``https`` (``wsgi.url_scheme``).
    :param signature: ``"v4"`` or ``"v2"``.
    """

    def __init__(self, app: Any, keys: Keys | None = None, *, region: str = DEFAULT_REGION,
                 host: str = DEFAULT_HOST, scheme: str = "http", signature: str = "v4",
                 extra_environ: Mapping[str, Any] | None = None) -> None:
        if keys is not None and not isinstance(keys, Keys):
            raise TypeError(f"keys: expected s3service.testing.Keys or None; "
                            f"got {type(keys).__name__}")
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"scheme: expected 'http' or 'https'; got {scheme!r}")
        if signature not in ("v2", "v4"):
            raise ValueError(f"signature: expected 'v2' or 'v4'; got {signature!r}")
        super().__init__(app, extra_environ=dict(extra_environ or {}))
        self.keys = keys
        self.region = region
        self.host = host
        self.scheme = scheme
        self.signature = signature
        self.extra_environ.update(_host_environ(host, scheme))

    # -- webtest's verbs, signed -------------------------------------------------------

    def do_request(self, req: Any, status: Any = None, expect_errors: Any = None) -> Any:
        """Sign ``req`` (unless it is signed already) and send it; webtest calls this."""
        if self.keys is not None and not _is_signed(req.environ):
            self._sign(req, self.keys, signature=self.signature)
        return super().do_request(req, status=status, expect_errors=expect_errors)

    # -- one request, every choice ---------------------------------------------------------

    def s3(self, method: str, path: str, body: bytes = b"", *,
           headers: Mapping[str, str] | None = None, keys: Keys | None = None,
           anonymous: bool = False, host: str | None = None, signature: str | None = None,
           presign: bool = False, expires: int = 3600, payload: str = "signed",
           chunk_size: int = 65536, status: int | str | None = None,
           expect_errors: bool = False) -> Any:
        """Send ``method path`` (path percent-encoded as a client sends it, with its query).

        :param keys: sign with these rather than the app's; ``anonymous``: not at all.
        :param host: send to this host (``photos.s3.example.com``) rather than the app's.
        :param presign: as a presigned URL; :param payload: see
            :data:`s3service.testing.signing.PAYLOADS`.
        """
        host = host or self.host
        split = urlsplit(path)
        environ = {**self.extra_environ, **_host_environ(host, self.scheme)}
        req = self.RequestClass.blank(split.path, environ, method=method)
        req.environ["QUERY_STRING"] = split.query
        for name, value in (headers or {}).items():
            req.headers[name] = value
        if body:
            req.body = body
        if not anonymous:
            self._sign(req, keys or self.keys, signature=signature or self.signature,
                       presign=presign, expires=expires, payload=payload,
                       chunk_size=chunk_size)
        return TestApp.do_request(self, req, status=status, expect_errors=expect_errors)

    def _sign(self, req: Any, keys: Keys | None, *, signature: str, presign: bool = False,
              expires: int = 3600, payload: str = "signed", chunk_size: int = 65536) -> None:
        if keys is None:
            raise ValueError("keys: this app has no keys to sign with; give keys=")
        environ = req.environ
        host = environ["HTTP_HOST"]
        path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                     safe="/~", encoding="latin-1")
        query = environ.get("QUERY_STRING", "")
        url = f"{environ['wsgi.url_scheme']}://{host}{path}" + (f"?{query}" if query else "")
        headers = {name: value for name, value in req.headers.items()
                   if name.lower() not in ("host", "content-length")}
        auth_path = None
        bucket = _bucket_of(host, self.host)
        if signature == "v2" and bucket is not None:
            auth_path = f"/{bucket}{path}"
        signed = sign(req.method, url, keys, body=req.body, headers=headers,
                      region=self.region, signature=signature, presign=presign,
                      expires=expires, payload=payload, chunk_size=chunk_size,
                      auth_path=auth_path)
        if presign:
            environ["QUERY_STRING"] = urlsplit(signed.url).query
        for name, value in signed.headers:
            if name.lower() != "host":
                req.headers[name] = value
        if signed.body != req.body:
            req.body = signed.body
        req.headers["Content-Length"] = str(len(signed.body))


def _host_environ(host: str, scheme: str) -> dict[str, str]:
    name, _, port = host.rpartition(":") if not host.endswith("]") and ":" in host \
        else (host, "", "")
    return {"HTTP_HOST": host, "SERVER_NAME": name or host,
            "SERVER_PORT": port or _DEFAULT_PORTS[scheme], "wsgi.url_scheme": scheme}


def _bucket_of(host: str, service_host: str) -> str | None:
    host, service_host = split_host(host), split_host(service_host)
    if host != service_host and host.endswith("." + service_host):
        return host[:-len(service_host) - 1]
    return None


def _is_signed(environ: Mapping[str, Any]) -> bool:
    query = environ.get("QUERY_STRING", "")
    return bool(environ.get("HTTP_AUTHORIZATION")) or "Signature=" in query


def error_code(response: Any) -> str | None:
    """The ``Code`` of an S3 error answer (``"NoSuchKey"``...), or ``None``."""
    from defusedxml import ElementTree

    try:
        code: str | None = ElementTree.fromstring(response.body).findtext("Code")
    except ElementTree.ParseError:
        return None
    return code
