"""The ListBuckets answer: request parameters in, ``ListAllMyBucketsResult`` XML out.

Everything here is pure: :func:`parse_params` validates the query string and
:func:`render` turns an iterator of buckets into an iterator of XML chunks, so
the middleware can stream a listing of any size without holding it in memory.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from .backends.base import BucketInfo
from .errors import XML_DECLARATION, InvalidArgument
from .xmltext import escape

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_BUCKETS = 10000          # the largest page a client may ask for
DEFAULT_PAGE = 10000         # page size when a parameter is sent without max-buckets
CHUNK = 500                  # buckets rendered per body chunk
#: A listing given as a list of up to this many buckets is rendered as one chunk:
#: the server sends it with its length, in one piece.  (granian hands a body of
#: several chunks over from a thread, once per chunk: at 1,000 buckets, serve
#: answered 5-31% more requests with one piece than with three chunks.)
WHOLE = MAX_BUCKETS

_PARAMS = ("max-buckets", "continuation-token", "prefix", "bucket-region")


@dataclass(frozen=True, slots=True)
class ListParams:
    """What the client asked of ListBuckets.  ``paged`` is true when any parameter was sent."""

    paged: bool = False
    max_buckets: int | None = None
    continuation_token: str | None = None
    prefix: str | None = None
    region: str | None = None

    @property
    def page_size(self) -> int | None:
        if self.max_buckets is not None:
            return self.max_buckets
        return DEFAULT_PAGE if self.paged else None


UNPAGED = ListParams()


def parse_params(query: Iterable[tuple[str, str]]) -> ListParams:
    """Validate ListBuckets' query parameters; unknown parameters are ignored, as S3 does."""
    seen: dict[str, str] = {}
    for name, value in query:
        if name in _PARAMS:
            if name in seen:
                raise InvalidArgument(f"Duplicate parameter {name}", ArgumentName=name,
                                      ArgumentValue=value)
            seen[name] = value
    if not seen:
        return UNPAGED
    max_buckets = None
    if "max-buckets" in seen:
        raw = seen["max-buckets"]
        # (the length check first: int() refuses strings of more than 4300 digits)
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit() and len(digits) <= 5
                and 1 <= int(digits or "0") <= MAX_BUCKETS):
            raise InvalidArgument(
                f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}",
                ArgumentName="max-buckets", ArgumentValue=raw)
        max_buckets = int(digits)
    token = seen.get("continuation-token")
    if token is not None and not token:
        raise InvalidArgument("The continuation token provided is incorrect",
                              ArgumentName="continuation-token", ArgumentValue=token)
    return ListParams(paged=True, max_buckets=max_buckets, continuation_token=token,
                      prefix=seen.get("prefix"), region=seen.get("bucket-region"))


@lru_cache(maxsize=1024)
def _head(owner_id: str, display_name: str) -> str:
    return (f'{XML_DECLARATION}<ListAllMyBucketsResult xmlns="{S3_XMLNS}">'
            f"<Owner><ID>{escape(owner_id)}</ID>"
            f"<DisplayName>{escape(display_name)}</DisplayName></Owner><Buckets>")


def _entries(batch: list[BucketInfo], with_region: bool) -> str:
    if with_region:
        return "".join([f"{bucket.listing_xml}<BucketRegion>{escape(bucket.region)}"
                        "</BucketRegion></Bucket>" for bucket in batch])
    if not batch:
        return ""
    # (a loop: in Python 3.11 a comprehension costs a function call; joined by
    # the entries' common ending, which saves a string per bucket)
    entries = []
    for bucket in batch:
        entries.append(bucket.listing_xml)
    return "</Bucket>".join(entries) + "</Bucket>"


def _tail(params: ListParams, token: str | None) -> str:
    text = "</Buckets>"
    if token is not None:
        text += f"<ContinuationToken>{escape(token)}</ContinuationToken>"
    if params.prefix is not None:
        text += f"<Prefix>{escape(params.prefix)}</Prefix>"
    return text + "</ListAllMyBucketsResult>"


_UNPAGED_TAIL = _tail(UNPAGED, None)


def render(owner_id: str, display_name: str, buckets: Iterable[BucketInfo],
           params: ListParams = UNPAGED,
           next_token: Callable[[str], str] | None = None) -> Iterator[bytes]:
    """The ``ListAllMyBucketsResult`` document, as an iterator of chunks of UTF-8 bytes.

    ``buckets`` must already be filtered and sorted.  For a paged listing it
    may hold one bucket more than the page: that one is not listed, it only
    tells that a ``ContinuationToken`` (made by ``next_token(last_name)``) is due.
    A listing of up to :data:`WHOLE` buckets given as a list is one chunk;
    otherwise the buckets are read, and the chunks made, :data:`CHUNK` at a time.
    """
    if isinstance(buckets, list):
        paged = params.paged
        shown = buckets[:params.page_size] if paged else buckets
        if len(shown) <= WHOLE:
            token = None
            if len(shown) < len(buckets) and next_token is not None:
                token = next_token(shown[-1].name)
            tail = _tail(params, token) if paged else _UNPAGED_TAIL
            text = _head(owner_id, display_name) + _entries(shown, paged) + tail
            return iter((text.encode("utf-8"),))
    return _chunks(owner_id, display_name, buckets, params, next_token)


def _chunks(owner_id: str, display_name: str, buckets: Iterable[BucketInfo],
            params: ListParams, next_token: Callable[[str], str] | None) -> Iterator[bytes]:
    source = iter(buckets)
    left = params.page_size  # None: no limit
    text = _head(owner_id, display_name)
    last: BucketInfo | None = None
    while True:
        size = CHUNK if left is None else min(CHUNK, left)
        batch = list(islice(source, size))
        if batch:
            last = batch[-1]
            text += _entries(batch, params.paged)
        if left is not None:
            left -= len(batch)
        if len(batch) < size or left == 0:
            break
        yield text.encode("utf-8")
        text = ""
    token = None
    # A full page is followed by a token only if the store had one bucket more.
    if left == 0 and last is not None and next_token is not None \
            and next(source, None) is not None:
        token = next_token(last.name)
    yield (text + _tail(params, token)).encode("utf-8")
