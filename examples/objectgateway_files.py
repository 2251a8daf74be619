"""Files and request bodies of the example object gateway (``objectgateway.py``).

An *object file* holds an object's bytes, then its metadata (JSON), then the
metadata's length (8 bytes, big-endian): written whole to a temporary file and
renamed into place, it replaces data and metadata together, and a reader that
opened it reads both from the same version.  Request bodies are read to their
end -- ``Content-Length`` bytes, or up to the end of an HTTP chunked body --
and kept only once the middleware reports them verified; XML bodies are
bounded and parsed as a stream.  Files are made 0600 and directories 0700.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from defusedxml import DefusedXmlException, ElementTree

from s3service.errors import (IncompleteBody, InvalidArgument, MalformedXML,
                              MissingContentLength, NoSuchBucket, S3Error, error_class)
from s3service.payload import PAYLOAD_KEY

MaxMessageLengthExceeded = error_class(
    "MaxMessageLengthExceeded", 400, "Your request was too big.", __name__)

PIECE = 256 * 1024
TRAILER_LENGTH = 8       # an object file ends with its metadata's length: 8 bytes, big-endian


def make_private_dir(path: Path) -> None:
    """``path`` as a directory only its owner may enter (0700), if it is not one yet."""
    path.mkdir(mode=0o700, exist_ok=True)


def write_json(path: Path, doc: dict) -> None:
    """Write ``path`` whole (0600) or not at all."""
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(json.dumps(doc))
    os.replace(tmp, path)


# -- object files: the bytes, then the metadata, then its length ----------------------

def end_object_file(out: BinaryIO, meta: dict) -> None:
    """End an object file being written with its metadata."""
    trailer = json.dumps(meta).encode("utf-8")
    out.write(trailer + len(trailer).to_bytes(TRAILER_LENGTH, "big"))


def open_object_file(path: Path) -> tuple[BinaryIO, dict]:
    """An object file, open at its first byte, and its metadata (``FileNotFoundError``)."""
    file = path.open("rb")
    try:
        end = file.seek(0, os.SEEK_END)
        file.seek(end - TRAILER_LENGTH)
        length = int.from_bytes(file.read(TRAILER_LENGTH), "big")
        file.seek(end - TRAILER_LENGTH - length)
        meta = json.loads(file.read(length))
        if meta["size"] != end - TRAILER_LENGTH - length:
            raise ValueError(f"{path}: not an object file")
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, meta


def read_object_meta(path: Path) -> dict | None:
    """An object file's metadata, ``None`` if it is gone."""
    try:
        file, meta = open_object_file(path)
    except FileNotFoundError:
        return None
    file.close()
    return meta


def file_range(file: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of an open file, which is closed at the end (or on ``close()``)."""
    with file:
        file.seek(start)
        left = end - start
        while left > 0:
            data = file.read(min(PIECE, left))
            if not data:
                return
            left -= len(data)
            yield data


def copy_exactly(source: BinaryIO, out: BinaryIO, size: int) -> None:
    """Copy ``size`` bytes of an object file (a part) to ``out``."""
    while size > 0:
        data = source.read(min(PIECE, size))
        if not data:
            raise RuntimeError("an object file is shorter than its metadata says")
        out.write(data)
        size -= len(data)


# -- request bodies -------------------------------------------------------------------

def body_length(environ: dict, required: bool) -> int | None:
    """The body's length; ``None`` for an HTTP chunked body, read up to its end.

    Without either, a PUT of an object or part is ``411 MissingContentLength``
    (``required``) and any other request has no body.
    """
    text = environ.get("CONTENT_LENGTH")
    if text:
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument("Invalid Content-Length", ArgumentName="Content-Length",
                                  ArgumentValue=text) from None
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    if required:
        raise MissingContentLength()
    return 0


def copy_body(environ: dict, into: BinaryIO, limit: int, too_large: type[S3Error],
              required: bool = False) -> str:
    """Copy the whole body into the open file ``into``; its MD5 in hex.

    ``too_large`` is raised for a body of more than ``limit`` bytes.  Returns
    only once the middleware has verified the body (the read that reaches
    the end raises the error of a failed check).
    """
    length = body_length(environ, required)
    if length is not None and length > limit:
        raise too_large()
    stream = environ["wsgi.input"]
    md5, total = hashlib.md5(), 0
    while length is None or total < length:
        want = PIECE if length is None else min(PIECE, length - total)
        data = stream.read(want)
        if not data:
            if length is None:
                break
            raise IncompleteBody()
        total += len(data)
        if total > limit:
            raise too_large()
        md5.update(data)
        into.write(data)
    report = environ.get(PAYLOAD_KEY)
    if report is not None and not report.verified:
        stream.read()                 # the checks of an empty body are judged here
        if not report.verified:
            raise IncompleteBody()
    return md5.hexdigest()


def drain_body(environ: dict, limit: int = 64 * 1024) -> None:
    """Read (and so verify) a body the operation does not use (a few KiB of XML at most)."""
    with open(os.devnull, "wb") as sink:
        copy_body(environ, sink, limit, MaxMessageLengthExceeded)


def parse_xml_list(environ: dict, root: str, item: str, limit: int, spool_dir: Path,
                   max_items: int) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The ``<root>`` document of the body: its own text children, and each ``<item>``'s.

    At most ``limit`` bytes (else ``MaxMessageLengthExceeded``), spooled to a
    file and parsed as a stream, so that memory stays small whatever is sent;
    at most ``max_items`` items, no DTD (else ``MalformedXML``).
    """
    fields: dict[str, str] = {}
    items: list[dict[str, str]] = []
    with tempfile.TemporaryFile(dir=spool_dir) as spool:
        copy_body(environ, spool, limit, MaxMessageLengthExceeded)
        spool.seek(0)
        depth, top = 0, None
        try:
            for event, elem in ElementTree.iterparse(spool, ("start", "end"), forbid_dtd=True):
                tag = elem.tag.rpartition("}")[2]
                if event == "start":
                    depth += 1
                    if depth == 1:
                        top = elem
                        if tag != root:
                            raise MalformedXML()
                    elif depth > 3:
                        raise MalformedXML()
                    continue
                depth -= 1
                if depth == 1 and tag == item:
                    items.append({child.tag.rpartition("}")[2]: (child.text or "")
                                  for child in elem})
                    if len(items) > max_items:
                        raise MalformedXML()
                elif depth == 1:
                    fields[tag] = (elem.text or "").strip()
                if depth == 1:
                    top.clear()         # what is parsed is kept only as the dicts above
        except (ElementTree.ParseError, DefusedXmlException):
            raise MalformedXML() from None
    return fields, items


# -- locks ----------------------------------------------------------------------------

@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``, held by one request of any process at a time."""
    with path.open("rb") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def bucket_locked(home: Path, exclusive: bool) -> Iterator[dict]:
    """A bucket's directory, locked for DeleteBucket (``exclusive``) or against it;
    yields its ``bucket.json``.

    ``NoSuchBucket`` if the directory is gone, or was discarded while this waited.
    """
    marker = home / "bucket.json"
    try:
        file = marker.open("rb")
    except FileNotFoundError:
        raise NoSuchBucket(BucketName=home.name) from None
    with file:
        fcntl.flock(file, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            in_place = os.path.samestat(os.fstat(file.fileno()), marker.stat())
        except FileNotFoundError:
            in_place = False
        if not in_place:
            raise NoSuchBucket(BucketName=home.name)
        yield json.loads(file.read())
