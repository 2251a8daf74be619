"""The ``CORSConfiguration`` XML of PutBucketCors and GetBucketCors, validated as S3 does.

:func:`parse_cors` turns a PutBucketCors body into a
:class:`~.rules.CORSConfiguration` or raises S3's error (``MalformedXML`` for
a document that is not one, ``InvalidRequest`` for a rule S3 refuses: an
unsupported method, two wildcards in an origin or a header, a long ID);
:func:`render_cors` writes GetBucketCors' answer.
"""
from __future__ import annotations

from collections.abc import Mapping

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ..errors import XML_DECLARATION, InvalidRequest, MalformedXML
from ..listing import S3_XMLNS
from ..xmltext import element
from .rules import ALLOWED_METHODS, CORSConfiguration, CORSRule

__all__ = ["MAX_CORS_BODY", "MAX_RULES", "parse_cors", "render_cors", "require_integrity"]

#: The largest CORS configuration S3 keeps, in bytes.
MAX_CORS_BODY = 64 * 1024
#: The most rules one configuration may hold.
MAX_RULES = 100
MAX_ID_LENGTH = 255

_LISTS = {"AllowedMethod": "allowed_methods", "AllowedOrigin": "allowed_origins",
          "AllowedHeader": "allowed_headers", "ExposeHeader": "expose_headers"}
_SINGLE = ("ID", "MaxAgeSeconds")
_CHECKSUMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_cors(body: bytes) -> CORSConfiguration:
    """The configuration a PutBucketCors body holds; raises MalformedXML or InvalidRequest."""
    if not body.strip() or len(body) > MAX_CORS_BODY:
        raise MalformedXML()
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise MalformedXML() from None
    if _local(root.tag) != "CORSConfiguration" or (root.text or "").strip():
        raise MalformedXML()
    children = list(root)
    if not children or len(children) > MAX_RULES or any(
            _local(child.tag) != "CORSRule" for child in children):
        raise MalformedXML()
    return CORSConfiguration(tuple(_rule(child) for child in children))


def _rule(node) -> CORSRule:
    lists: dict[str, list[str]] = {name: [] for name in _LISTS.values()}
    single: dict[str, str] = {}
    for child in node:
        name = _local(child.tag)
        if len(child):
            raise MalformedXML()
        text = (child.text or "").strip()
        if name in _LISTS:
            lists[_LISTS[name]].append(text)
        elif name in _SINGLE and name not in single:
            single[name] = text
        else:
            raise MalformedXML()
    if not lists["allowed_methods"] or not lists["allowed_origins"]:
        raise MalformedXML()
    for method in lists["allowed_methods"]:
        if method not in ALLOWED_METHODS:
            raise InvalidRequest("Found unsupported HTTP method in CORS config. "
                                 f"Unsupported method is {method}")
    for kind, values in (("AllowedOrigin", lists["allowed_origins"]),
                         ("AllowedHeader", lists["allowed_headers"])):
        for value in values:
            if value.count("*") > 1:
                raise InvalidRequest(f'{kind} "{value}" can not have more than one wildcard.')
    rule_id = single.get("ID")
    if rule_id is not None and len(rule_id) > MAX_ID_LENGTH:
        raise InvalidRequest(f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}")
    max_age = single.get("MaxAgeSeconds")
    if max_age is not None and not (max_age.isascii() and max_age.lstrip("-").isdigit()
                                    and len(max_age) <= 11):
        raise MalformedXML()
    return CORSRule(allowed_methods=tuple(lists["allowed_methods"]),
                    allowed_origins=tuple(lists["allowed_origins"]),
                    allowed_headers=tuple(lists["allowed_headers"]),
                    expose_headers=tuple(lists["expose_headers"]),
                    max_age_seconds=None if max_age is None else int(max_age), id=rule_id)


def render_cors(configuration: CORSConfiguration) -> bytes:
    """GetBucketCors' ``CORSConfiguration`` document."""
    parts = [XML_DECLARATION, f'<CORSConfiguration xmlns="{S3_XMLNS}">']
    for rule in configuration.rules:
        parts.append("<CORSRule>")
        if rule.id is not None:
            parts.append(element("ID", rule.id))
        parts += [element("AllowedHeader", value) for value in rule.allowed_headers]
        parts += [element("AllowedMethod", value) for value in rule.allowed_methods]
        parts += [element("AllowedOrigin", value) for value in rule.allowed_origins]
        parts += [element("ExposeHeader", value) for value in rule.expose_headers]
        if rule.max_age_seconds is not None:
            parts.append(element("MaxAgeSeconds", str(rule.max_age_seconds)))
        parts.append("</CORSRule>")
    parts.append("</CORSConfiguration>")
    return "".join(parts).encode("utf-8")


def require_integrity(environ: Mapping[str, object]) -> None:
    """InvalidRequest unless the body declares a digest, as S3 requires of PutBucketCors.

    ``Content-MD5`` or an ``x-amz-checksum-*`` header or trailer (which the
    middleware, with ``authenticate_all``, checks against the body).
    """
    if "HTTP_CONTENT_MD5" in environ or "HTTP_X_AMZ_TRAILER" in environ or any(
            "HTTP_X_AMZ_CHECKSUM_" + name in environ for name in _CHECKSUMS):
        return
    raise InvalidRequest("Missing required header for this request: Content-MD5")
