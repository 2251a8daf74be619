"""The records a store hands over: a key's :class:`Credential`, a bucket's
:class:`BucketInfo`, a policy's :class:`Attachment`.

Plain values, made by the stores and read by everything above them; the
protocols that pass them are in :mod:`.protocols`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from ..regions import DEFAULT_REGION
from ..xmltext import escape

__all__ = ["Attachment", "BucketInfo", "Credential", "s3_timestamp"]


@dataclass(frozen=True, slots=True)
class Credential:
    """An access key and everything the middleware needs to know about it."""

    access_key: str
    secret_key: str
    account_id: str
    display_name: str
    user: str | None = None
    active: bool = True
    session_token: str | None = None
    expires: datetime | None = None  # aware datetime; only for session keys

    def __repr__(self) -> str:  # never print the secret or the token
        return (f"Credential(access_key={self.access_key!r}, account_id={self.account_id!r}, "
                f"user={self.user!r}, active={self.active!r})")


class BucketInfo(tuple[Any, ...]):
    """One bucket as ListBuckets shows it: ``name``, ``created``, ``region``.

    ``created`` is an aware datetime (a naive one is taken as UTC).  The
    object is immutable, and carries ``listing_xml``: its ``<Bucket>`` entry of
    a ListBuckets answer up to ``</CreationDate>``, made once, so that
    rendering a listing is little more than joining these.  A store that keeps
    that entry (see :meth:`entry`) makes the object from it with
    :meth:`from_entry`, formatting nothing again.

    (A tuple underneath, ``(name, region, listing_xml, created or None)``: a
    streamed listing makes one per bucket, and a tuple is made in a third of
    the time of an object with attributes.)
    """

    __slots__ = ()

    def __new__(cls, name: str, created: datetime, region: str = DEFAULT_REGION) -> BucketInfo:
        return tuple.__new__(cls, (name, region, cls.entry(name, created), created))

    @staticmethod
    def entry(name: str, created: datetime) -> str:
        """The ``listing_xml`` of a bucket ``name`` created at ``created``."""
        return (f"<Bucket><Name>{escape(name)}</Name>"
                f"<CreationDate>{s3_timestamp(created)}</CreationDate>")

    @classmethod
    def from_entry(cls, name: str, region: str, listing_xml: str) -> BucketInfo:
        """The bucket whose :meth:`entry` a store kept; ``created`` is read back from it."""
        return tuple.__new__(cls, (name, region, listing_xml, None))

    name: str = property(itemgetter(0))  # type: ignore[assignment]
    region: str = property(itemgetter(1))  # type: ignore[assignment]
    listing_xml: str = property(itemgetter(2))  # type: ignore[assignment]

    @property
    def created(self) -> datetime:
        created: datetime | None = self[3]
        if created is None:
            return datetime.strptime(self.creation_date, "%Y-%m-%dT%H:%M:%S.%f%z")
        return created

    @property
    def creation_date(self) -> str:
        """``created`` as S3 shows it (see :func:`s3_timestamp`)."""
        start = self.listing_xml.rindex("<CreationDate>") + len("<CreationDate>")
        return self.listing_xml[start:-len("</CreationDate>")]

    def _key(self) -> tuple[str, str, str]:
        return self.name, self.creation_date, self.region

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BucketInfo):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"BucketInfo(name={self.name!r}, created={self.creation_date!r}, "
                f"region={self.region!r})")


def s3_timestamp(when: datetime) -> str:
    """``2009-02-03T16:45:09.000Z``: UTC with milliseconds, as S3 writes dates."""
    if when.tzinfo is not None and when.utcoffset():
        when = when.astimezone(timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        when.year, when.month, when.day, when.hour, when.minute, when.second,
        when.microsecond // 1000)


@dataclass(frozen=True)
class Attachment:
    """A managed policy attached to a user (``kind="user"``) or a group (``kind="group"``)."""

    policy: str
    kind: str
    principal: str
