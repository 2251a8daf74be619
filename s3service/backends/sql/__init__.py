"""The SQL store: SQLite (embedded) or PostgreSQL, through SQLAlchemy Core.

:class:`SQLBackend` (:mod:`.store`) implements every protocol of
:mod:`s3service.backends.protocols`, with its policies (:mod:`.policies`) and
metrics (:mod:`.metrics`) as parts of its own; beside them, what only SQL
needs: the tables and their upgrades (:mod:`.schema`), the driver-level
reader of long listings (:mod:`.reader`), the outage guard (:mod:`.guard`),
the per-process listing cache (:mod:`.listingcache`) and psycopg's bounded
waits (:mod:`.pgwait`)::

    from s3service.backends.sql import SQLBackend

    store = SQLBackend("sqlite:///s3service.db")     # or postgresql+psycopg://user@host/db
"""
from .store import SQLBackend

__all__ = ["SQLBackend"]
