"""Tables of the SQL store and the tiny migration runner that keeps them current.

The same tables serve SQLite and PostgreSQL.  Names that are listed in order
(bucket names, account ids, user names, access keys) compare bytewise on both:
SQLite's default ``BINARY`` collation already does, and on PostgreSQL the
columns carry ``COLLATE "C"``, so ``ORDER BY name`` agrees with Python's
``sorted()`` whatever the database's locale is.

Migrations: ``MIGRATIONS[i]`` brings a database from version ``i`` to
``i + 1``; :func:`upgrade` runs those above the version stored in the
``schema_version`` table, inside the caller's transaction.  A migration must
spell out its own DDL (not ``metadata.create_all()``), because the table
objects below always describe the newest version.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    inspect,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.types import TypeDecorator

from ...regions import DEFAULT_REGION
from ..base import BucketInfo


def _name(length: int) -> String:
    """A string column compared bytewise on every database."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator):
    """Stores datetimes in UTC (microseconds kept); always returns them aware in UTC.

    A naive datetime handed in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:          # SQLite keeps no offset; we wrote UTC
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()

schema_version = Table(
    "s3service_schema_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),   # always 1: one row
    Column("version", Integer, nullable=False),
)

accounts = Table(
    "s3service_accounts", metadata,
    Column("account_id", _name(128), primary_key=True),             # canonical user ID
    Column("display_name", String(255), nullable=False, default=""),
    # Bumped (by a trigger) whenever one of the account's buckets changes.
    Column("bucket_version", BigInteger, nullable=False, server_default="0"),
)

users = Table(
    "s3service_users", metadata,
    Column("account_id", _name(128), ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
           primary_key=True),
    Column("name", _name(128), primary_key=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created", UTCDateTime, nullable=True),
)

access_keys = Table(
    "s3service_access_keys", metadata,
    Column("access_key", _name(128), primary_key=True),
    Column("secret_key", String(255), nullable=False),
    Column("account_id", _name(128), ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
           nullable=False),
    Column("user_name", _name(128), nullable=True),                 # NULL: the account's own key
    Column("active", Boolean, nullable=False, default=True),
    Column("session_token", Text, nullable=True),
    Column("expires", UTCDateTime, nullable=True),
    Column("created", UTCDateTime, nullable=True),
    Column("last_used", UTCDateTime, nullable=True),
    Column("last_used_service", String(32), nullable=True),
    Column("last_used_region", String(64), nullable=True),
    ForeignKeyConstraint(["account_id", "user_name"], [users.c.account_id, users.c.name],
                         ondelete="CASCADE"),
    Index("ix_s3service_access_keys_account", "account_id", "access_key"),
)

buckets = Table(
    "s3service_buckets", metadata,
    Column("name", _name(255), primary_key=True),                   # bucket names are global
    Column("owner", _name(128), ForeignKey(accounts.c.account_id), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("region", String(64), nullable=False, default=DEFAULT_REGION),
    # BucketInfo.entry(name, created), kept so listing formats nothing;
    # NULL when written by an s3service older than schema version 3.
    Column("listing_entry", Text, nullable=True),
    Index("ix_s3service_buckets_owner_name", "owner", "name"),      # keyset listing
)


# Each bucket's CORS configuration (used by :mod:`.cors`); goes with its bucket.
bucket_cors = Table(
    "s3service_bucket_cors", metadata,
    Column("bucket", _name(255), ForeignKey(buckets.c.name, ondelete="CASCADE"),
           primary_key=True),
    Column("configuration", Text, nullable=False),          # CORSConfiguration.to_json()
)


# IAM policies, groups and attachments (used by :mod:`.policies`).
policies = Table(
    "s3service_policies", metadata,
    Column("account_id", _name(128), ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
           primary_key=True),
    Column("name", _name(128), primary_key=True),
    Column("document", Text, nullable=False),           # the default version's
    Column("default_version", Integer, nullable=False, server_default="1"),
    Column("created", UTCDateTime, nullable=True),
    Column("updated", UTCDateTime, nullable=True),
)

groups = Table(
    "s3service_groups", metadata,
    Column("account_id", _name(128), ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
           primary_key=True),
    Column("name", _name(128), primary_key=True),
)

group_members = Table(
    "s3service_group_members", metadata,
    Column("account_id", _name(128), primary_key=True),
    Column("group_name", _name(128), primary_key=True),
    Column("user_name", _name(128), primary_key=True),
    ForeignKeyConstraint(["account_id", "group_name"], [groups.c.account_id, groups.c.name],
                         ondelete="CASCADE"),
    ForeignKeyConstraint(["account_id", "user_name"], [users.c.account_id, users.c.name],
                         ondelete="CASCADE"),
)

attachments = Table(
    "s3service_policy_attachments", metadata,
    Column("account_id", _name(128), primary_key=True),
    Column("policy_name", _name(128), primary_key=True),
    Column("kind", _name(8), primary_key=True),                 # "user" or "group"
    Column("principal", _name(128), primary_key=True),
    ForeignKeyConstraint(["account_id", "policy_name"], [policies.c.account_id, policies.c.name],
                         ondelete="CASCADE"),
)

inline_policies = Table(
    "s3service_inline_policies", metadata,
    Column("account_id", _name(128), primary_key=True),
    Column("user_name", _name(128), primary_key=True),
    Column("name", _name(128), primary_key=True),
    Column("document", Text, nullable=False),
    ForeignKeyConstraint(["account_id", "user_name"], [users.c.account_id, users.c.name],
                         ondelete="CASCADE"),
)

policy_versions = Table(
    "s3service_policy_versions", metadata,
    Column("account_id", _name(128), ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
           primary_key=True),
    Column("version", BigInteger, nullable=False),
)

POLICY_TABLES = (policies, groups, group_members, attachments, inline_policies, policy_versions)

# Every version of each managed policy (the default one's document is in policies too).
policy_documents = Table(
    "s3service_policy_documents", metadata,
    Column("account_id", _name(128), primary_key=True),
    Column("policy_name", _name(128), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),
    Column("created", UTCDateTime, nullable=True),
    ForeignKeyConstraint(["account_id", "policy_name"], [policies.c.account_id, policies.c.name],
                         ondelete="CASCADE"),
)

# One row: bumped in the same transaction as every revocation (a key disabled
# or deleted, a user disabled or deleted, any policy change), so that each
# process, reading it every fraction of a second, knows when to forget what it cached.
revocations = Table(
    "s3service_revocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),   # always 1
    Column("generation", BigInteger, nullable=False),
)


# -- migrations ---------------------------------------------------------------

def _v1_initial(conn: Connection) -> None:
    for table in (accounts, users, access_keys, buckets):
        table.create(conn, checkfirst=True)


# The metrics tables as version 2 made them: service level only.
_v2 = MetaData()
_v2_counters = Table(
    "s3service_metrics", _v2,
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("operation", String(64), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("incoming_bytes", BigInteger, nullable=False),
    Column("outgoing_bytes", BigInteger, nullable=False),
)
_v2_storage = Table(
    "s3service_metrics_storage", _v2,
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("bytes_delta", BigInteger, nullable=False),
    Column("objects_delta", BigInteger, nullable=False),
)


def _v2_metrics(conn: Connection) -> None:
    _v2.create_all(conn, checkfirst=True)


def _add_column(conn: Connection, table: Table, column: str, ddl: str) -> None:
    # (v1 creates the tables as they are now, so a new database has the column already)
    if column not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column} {ddl}")


_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS s3service_buckets_{event.lower()}
        AFTER {event} ON s3service_buckets
        BEGIN
            UPDATE s3service_accounts SET bucket_version = bucket_version + 1
            WHERE account_id IN ({owners});
        END"""
    for event, owners in (("INSERT", "NEW.owner"), ("DELETE", "OLD.owner"),
                          ("UPDATE", "OLD.owner, NEW.owner"))]

_POSTGRES_TRIGGER = ["""
    CREATE OR REPLACE FUNCTION s3service_bump_bucket_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            UPDATE s3service_accounts SET bucket_version = bucket_version + 1
            WHERE account_id = OLD.owner;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            UPDATE s3service_accounts SET bucket_version = bucket_version + 1
            WHERE account_id = NEW.owner;
        END IF;
        RETURN NULL;
    END $$""", """
    CREATE OR REPLACE TRIGGER s3service_buckets_version
        AFTER INSERT OR UPDATE OR DELETE ON s3service_buckets
        FOR EACH ROW EXECUTE FUNCTION s3service_bump_bucket_version()"""]


def _v3_listing_versions(conn: Connection) -> None:
    """Bucket versions bumped by triggers, and each bucket's listing entry kept."""
    _add_column(conn, accounts, "bucket_version", "BIGINT NOT NULL DEFAULT 0")
    _add_column(conn, buckets, "listing_entry", "TEXT")
    triggers = _POSTGRES_TRIGGER if conn.dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        conn.exec_driver_sql(statement)
    rows = conn.execute(select(buckets.c.name, buckets.c.created)
                        .where(buckets.c.listing_entry.is_(None))).all()
    for name, created in rows:
        conn.execute(update(buckets).where(buckets.c.name == name)
                     .values(listing_entry=BucketInfo.entry(name, created)))


def _policies(conn: Connection) -> None:
    """IAM policies, groups and attachments (see :mod:`.policies`)."""
    for table in POLICY_TABLES:
        table.create(conn, checkfirst=True)


# The metrics tables with a level, an account and a name in front of each row.
_utilization = MetaData()
_utilization_counters = Table(
    "s3service_utilization", _utilization,
    Column("level", String(8), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("operation", String(64), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("incoming_bytes", BigInteger, nullable=False),
    Column("outgoing_bytes", BigInteger, nullable=False),
)
_utilization_storage = Table(
    "s3service_utilization_storage", _utilization,
    Column("level", String(8), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("interval_start", BigInteger, primary_key=True, autoincrement=False),
    Column("bytes_delta", BigInteger, nullable=False),
    Column("objects_delta", BigInteger, nullable=False),
)


def _utilization_levels(conn: Connection) -> None:
    """Metrics per account, user and bucket: the service-level rows move to the new tables."""
    _utilization.create_all(conn, checkfirst=True)
    existing = set(inspect(conn).get_table_names())
    service = {"level": literal("service"), "account_id": literal(""), "name": literal("s3")}
    for old, new in ((_v2_counters, _utilization_counters), (_v2_storage, _utilization_storage)):
        if old.name not in existing:
            continue
        columns = [c.name for c in old.columns]
        conn.execute(insert(new).from_select(
            [*service, *columns],
            select(*(v.label(k) for k, v in service.items()), *old.columns)))
        old.drop(conn)


_INTERVAL_MS = 15 * 60 * 1000


def _bucket_rows_by_owner(conn: Connection) -> None:
    """Bucket rows keyed by the bucket's owner (they had an empty ``account_id``), and
    an index on the counters' ``interval_start`` (retention removes by it).

    A row goes to the bucket's current owner if it is of an interval from the
    one the bucket was created in on; the others -- a previous owner's tenure
    of the name, names that never existed -- are removed, since nobody may read
    them now.
    """
    tables = [t for t in (_utilization_counters, _utilization_storage)
              if t.name in set(inspect(conn).get_table_names())]
    if not tables:
        return
    tenures = [{"bucket": name, "owner": owner,
                "since": _ms(created) - _ms(created) % _INTERVAL_MS}
               for name, owner, created in conn.execute(
                   select(buckets.c.name, buckets.c.owner, buckets.c.created))]
    for table in tables:
        c = table.c
        unowned = (c.level == "buckets") & (c.account_id == "")
        if tenures:
            conn.execute(update(table)
                         .where(unowned, c.name == bindparam("bucket"),
                                c.interval_start >= bindparam("since"))
                         .values(account_id=bindparam("owner")), tenures)
        conn.execute(delete(table).where(unowned))
    if any(t.name == _utilization_counters.name for t in tables):
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_s3service_utilization_interval "
                             "ON s3service_utilization (interval_start)")


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def _iam_lifecycle(conn: Connection) -> None:
    """Users that can be disabled, keys' creation and last use, policy versions, and the
    revocation generation every process polls."""
    def column(table: Table, name: str) -> None:
        col = table.c[name]
        ddl = col.type.compile(dialect=conn.dialect)
        if col.server_default is not None:
            default = "TRUE" if isinstance(col.type, Boolean) else col.server_default.arg
            ddl += f" NOT NULL DEFAULT {default}"
        _add_column(conn, table, name, ddl)

    for table, names in ((users, ("active", "created")),
                         (access_keys, ("created", "last_used", "last_used_service",
                                        "last_used_region")),
                         (policies, ("default_version", "created", "updated"))):
        for name in names:
            column(table, name)
    for table in (policy_documents, revocations):
        table.create(conn, checkfirst=True)
    known = select(policy_documents.c.account_id).where(
        policy_documents.c.account_id == policies.c.account_id,
        policy_documents.c.policy_name == policies.c.name).exists()
    conn.execute(insert(policy_documents).from_select(
        ["account_id", "policy_name", "version", "document"],
        select(policies.c.account_id, policies.c.name, policies.c.default_version,
               policies.c.document).where(~known)))
    if conn.execute(select(revocations.c.id)).first() is None:
        conn.execute(insert(revocations).values(id=1, generation=0))
def _bucket_cors(conn: Connection) -> None:
    """Each bucket's CORS configuration (PutBucketCors)."""
    bucket_cors.create(conn, checkfirst=True)


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _v1_initial,           # 0 -> 1
    _v2_metrics,           # 1 -> 2: the utilization metrics' counters
    _v3_listing_versions,  # 2 -> 3: bucket versions and kept listing entries
    _policies,             # 3 -> 4: IAM policies, groups and attachments
    _utilization_levels,   # 4 -> 5: metrics per account, user and bucket
    _bucket_rows_by_owner,  # 5 -> 6: bucket metrics keyed by owner; index for retention
    _iam_lifecycle,        # 6 -> 7: disabled users, key times, policy versions, revocations
    _bucket_cors,          # 7 -> 8: each bucket's CORS configuration
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer s3service than this one."""


def current_version(conn: Connection) -> int:
    """The stored schema version (0 when the version table has no row yet)."""
    stored = conn.execute(select(schema_version.c.version)
                          .where(schema_version.c.id == 1)).scalar()
    return 0 if stored is None else int(stored)


def upgrade(conn: Connection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION` within ``conn``'s transaction.

    Returns the version found before upgrading.  A process racing us may make
    a statement fail with "already exists" or a duplicate key; the caller
    rolls back and calls again, and then finds the work done.
    """
    schema_version.create(conn, checkfirst=True)
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"database schema version {found} is newer than the "
                           f"supported version {SCHEMA_VERSION}")
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
    if found == 0:
        conn.execute(insert(schema_version).values(id=1, version=SCHEMA_VERSION))
    elif found < SCHEMA_VERSION:
        conn.execute(update(schema_version).where(schema_version.c.id == 1)
                     .values(version=SCHEMA_VERSION))
    return found
