"""The CORS store (:class:`~..protocols.CORSStore`) of :class:`~.sql.SQLBackend`.

One row per bucket with a configuration, in ``s3service_bucket_cors``, whose
foreign key deletes it with its bucket (``ON DELETE CASCADE``): a bucket made
again under the name starts without one.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from ...cors.rules import CORSConfiguration
from ..base import UnknownBucket
from .guard import retry
from .schema import bucket_cors, buckets

_ATTEMPTS = 3        # a put that lost a race with another put of the same bucket's rules


class SQLCORS:
    """A mixin for :class:`~.sql.SQLBackend`: bucket CORS configurations in its database.

    Uses the backend's ``_transaction()``.
    """

    _transaction: Callable[..., AbstractContextManager[Connection]]

    def bucket_cors(self, bucket: str) -> CORSConfiguration | None:
        """The bucket's CORS configuration, or ``None``."""
        with self._transaction() as conn:
            text = conn.execute(select(bucket_cors.c.configuration)
                                .where(bucket_cors.c.bucket == bucket)).scalar()
        return None if text is None else CORSConfiguration.from_json(text)

    def _change_cors(self, bucket: str, owner: str | None, text: str | None) -> None:
        def work() -> None:
            with self._transaction(writing=True) as conn:
                found = conn.execute(select(buckets.c.owner)
                                     .where(buckets.c.name == bucket)).scalar()
                if found is None or (owner is not None and found != owner):
                    raise UnknownBucket(bucket)
                conn.execute(delete(bucket_cors).where(bucket_cors.c.bucket == bucket))
                if text is not None:    # (a bucket deleted meanwhile: its key is gone, retried)
                    conn.execute(insert(bucket_cors).values(bucket=bucket, configuration=text))

        retry(work, on=IntegrityError, attempts=_ATTEMPTS)

    def put_bucket_cors(self, bucket: str, configuration: CORSConfiguration, *,
                        owner: str | None = None) -> None:
        """Set the bucket's CORS configuration (``owner``: only if that account owns it)."""
        self._change_cors(bucket, owner, configuration.to_json())

    def delete_bucket_cors(self, bucket: str, *, owner: str | None = None) -> None:
        """Remove the bucket's CORS configuration (``owner``: only if that account owns it)."""
        self._change_cors(bucket, owner, None)
