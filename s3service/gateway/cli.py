"""The ``s3service`` command: run the gateway, and administer its store.

Usage::

    s3service [--db URL | --db-file PATH] [--json] COMMAND ...

    s3service serve [--host H] [--port P] [--workers N] [--threads N] [--region R]
                    [--certfile PEM --keyfile PEM] [--backend-timeout S] [--db-pool-size N]
                    [--service-host NAME]... [--demo] [--log-level L] [--access-log]
                    [--metrics] [--metrics-admin ACCOUNT]... [--metrics-retention DAYS]
                    [--prometheus-port P [--prometheus-host H]]
    s3service account create [ID] [--name NAME]
    s3service account list
    s3service account rename ACCOUNT NEW_NAME
    s3service account delete ACCOUNT [--force]
    s3service user create|delete|disable|enable ACCOUNT NAME
    s3service user list ACCOUNT
    s3service key create ACCOUNT [--user NAME]
    s3service key list ACCOUNT
    s3service key disable|enable|delete ACCESS_KEY
    s3service bucket create ACCOUNT NAME [--region R]
    s3service bucket list [ACCOUNT]
    s3service bucket delete NAME
    s3service policy create|update|versions|delete|attach|detach|list|simulate ...
    s3service policy put-inline|get-inline|delete-inline ...   (see .policycli)
    s3service group create|delete|add-user|remove-user|detach|list ...
    s3service secrets new-key|encrypt|status ...               (see .secretscli)
    s3service metrics [--level L] [NAME...] [--since 1h | --start T --end T] [--chart]
                      [--endpoint-url URL]                  (see .metricscli)

ACCOUNT is an account's id or its display name (names are unique).

The store is the database at ``--db``, or the first line of ``--db-file``
(not readable by other users), or ``$S3SERVICE_DB``, by default
``sqlite:///s3service.db``.  A password given with ``--db`` is replaced by
``***`` in the process's command line (what ``ps`` shows of it and of the
workers it forks) as soon as the command starts; the file or the environment
never show it at all.  ``--json`` (before or after the command) prints
machine-readable output.  ``--secrets-key-file PATH`` (or
``$S3SERVICE_SECRETS_KEY_FILE``) names the keys that encrypt the secret keys
in the database (see :mod:`.secretscli`).  Errors are one line on stderr
(``s3service: error: ...``) with exit status 1 (failed: unknown account,
bucket taken...), 2 (bad arguments: an invalid bucket name...) or 3 (the
database cannot be reached).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..auth.presign import presign
from ..backends.protocols import AdminStore
from ..extras import missing_extra_message
from ..metrics.meter import DEFAULT_RETENTION_DAYS
from ..regions import DEFAULT_REGION
from . import admin, lifecycle, metricscli, policycli, secretscli
from .output import emit, table
from .admin import AdminError
from .arguments import hide_in_arguments

PROG = "s3service"
DEMO_URL_SECONDS = 3600
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


# -- the parser ------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from .server import DEFAULT_DB, ENV_DB

    parser = argparse.ArgumentParser(
        prog=PROG, description="Run an S3 service-level gateway and administer its store.",
        epilog=f"The database is --db, else --db-file's first line, else ${ENV_DB}, else "
               f"{DEFAULT_DB}. "
               "Exit status: 0 ok, 1 failed, 2 bad arguments, 3 database unreachable.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", metavar="URL", default=None,
                        help=f"store URL: sqlite:///PATH, postgresql+psycopg://..., or memory "
                             f"(default: ${ENV_DB} or {DEFAULT_DB}); a password in it is "
                             f"seen in ps until the command starts: prefer --db-file or "
                             f"${ENV_DB}")
    parser.add_argument("--db-file", metavar="PATH", default=None,
                        help="read the store URL from the first line of this file (which "
                             "other users must not be able to read)")
    parser.add_argument("--secrets-key-file", metavar="PATH", default=None,
                        help="the keys that encrypt the secret keys in the database (default: "
                             "$S3SERVICE_SECRETS_KEY_FILE; see `secrets new-key`)")
    parser.add_argument("--json", action="store_true", default=False,
                        help="print JSON (one document) instead of text")
    # The same options after the command; SUPPRESS keeps the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--db-file", metavar="PATH", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    common.add_argument("--secrets-key-file", metavar="PATH", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON instead of text")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(group: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    serve = command(commands, "serve", cmd_serve, "run the gateway (under granian)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--workers", type=_positive, default=None,
                       help="worker processes (default: one per CPU; 1 for --db memory)")
    serve.add_argument("--threads", type=_positive, default=None,
                       help="threads per worker running the gateway (default: %s)"
                            % server_defaults()[0])
    serve.add_argument("--certfile", metavar="PEM", default=None,
                       help="serve HTTPS with this certificate (chain); needs --keyfile")
    serve.add_argument("--keyfile", metavar="PEM", default=None,
                       help="the certificate's private key (unencrypted PEM)")
    serve.add_argument("--region", default=DEFAULT_REGION,
                       help="the region clients sign for and buckets are created in "
                            "(default: %(default)s)")
    serve.add_argument("--service-host", action="append", default=[], metavar="NAME",
                       help="host name of the service, for virtual-hosted buckets "
                            "(BUCKET.NAME); repeatable")
    serve.add_argument("--demo", action="store_true",
                       help="create a demo account, key and two buckets (once) and print them")
    serve.add_argument("--backend-timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="longest wait for the database's answer before a request gets "
                            "503 ServiceUnavailable (default: %s)" % server_defaults()[1])
    serve.add_argument("--db-pool-size", type=_positive, default=None, metavar="N",
                       help="connections each worker holds at most to a database server, shared "
                            "by its threads (default: %d; not for SQLite)" % _db_pool_size())
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error", "critical"])
    serve.add_argument("--access-log", action="store_true",
                       help="log every request on standard output (credentials redacted)")
    serve.add_argument("--idle-timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="longest a request body may send nothing before 400 RequestTimeout "
                            "(default: %g)" % server_defaults()[3])
    serve.add_argument("--send-timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="longest an answer may stall, its client reading nothing, before "
                            "the connection is dropped (Linux; default: %g)" % _send_timeout())
    serve.add_argument("--max-buckets", type=_count, default=None, metavar="N",
                       help="buckets an account may create, 0 for no limit "
                            "(default: %d, as S3's)" % server_defaults()[2])
    serve.add_argument("--metrics", action="store_true",
                       help="meter every request and answer ListMetrics (tenants read their own)")
    serve.add_argument("--metrics-admin", action="append", default=[], metavar="ACCOUNT",
                       help="an operator account that may read the fleet's metrics "
                            "(implies --metrics); repeatable")
    serve.add_argument("--metrics-retention", type=_days, default=DEFAULT_RETENTION_DAYS,
                       metavar="DAYS",
                       help="remove metered request counts older than this (0: keep them "
                            "all; default: %(default)s)")
    serve.add_argument("--prometheus-port", type=_port, default=None, metavar="PORT",
                       help="serve Prometheus metrics (/metrics), /healthz and /readyz on this "
                            "port (needs s3service[prometheus]; default: off)")
    serve.add_argument("--prometheus-host", default="127.0.0.1", metavar="HOST",
                       help="address the --prometheus-port listens on (default: %(default)s)")

    account = _group(commands, "account", "manage accounts")
    sub = command(account, "create", cmd_account_create, "create an account")
    sub.add_argument("account_id", nargs="?", metavar="ID",
                     help="canonical user ID (default: 64 random hex digits)")
    sub.add_argument("--name", default="", help="display name (unique: it names the account "
                                                 "wherever ACCOUNT is asked)")
    sub.set_defaults(resolve_account=False)
    command(account, "list", cmd_account_list, "list accounts")

    user = _group(commands, "user", "manage IAM users of an account")
    sub = command(user, "create", cmd_user_create, "create a user")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("user", metavar="NAME")
    sub = command(user, "list", cmd_user_list, "list an account's users")
    sub.add_argument("account_id", metavar="ACCOUNT")

    key = _group(commands, "key", "manage access keys")
    sub = command(key, "create", cmd_key_create,
                  "create an access key (its secret is printed this once only)")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("--user", default=None, metavar="NAME", help="the key of this IAM user")
    sub = command(key, "list", cmd_key_list, "list an account's keys (never the secrets)")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub = command(key, "disable", cmd_key_disable, "disable an access key")
    sub.add_argument("access_key", metavar="ACCESS_KEY")
    sub = command(key, "enable", cmd_key_enable, "enable a disabled access key")
    sub.add_argument("access_key", metavar="ACCESS_KEY")

    bucket = _group(commands, "bucket", "manage buckets")
    sub = command(bucket, "create", cmd_bucket_create, "create a bucket")
    sub.add_argument("account_id", metavar="ACCOUNT")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--region", default=DEFAULT_REGION, help="(default: %(default)s)")
    sub = command(bucket, "list", cmd_bucket_list, "list buckets (of one account, or all)")
    sub.add_argument("account_id", nargs="?", metavar="ACCOUNT")
    sub = command(bucket, "delete", cmd_bucket_delete, "delete a bucket")
    sub.add_argument("name", metavar="NAME")

    lifecycle.register({"account": account, "user": user, "key": key}, command)
    policycli.register(commands, command, _group)
    secretscli.register(commands, command, _group)
    metricscli.register(commands, command)
    return parser


def server_defaults() -> tuple[int, float, int, float]:
    """``serve``'s default threads per worker, backend timeout, bucket limit and body idle bound."""
    from ..payload.idle import DEFAULT_IDLE_TIMEOUT
    from .app import MAX_BUCKETS
    from .server import BACKEND_TIMEOUT, THREADS
    return THREADS, BACKEND_TIMEOUT, MAX_BUCKETS, DEFAULT_IDLE_TIMEOUT


def _send_timeout() -> float:
    from .sendtimeout import DEFAULT_SEND_TIMEOUT
    return DEFAULT_SEND_TIMEOUT


def _db_pool_size() -> int:
    from .server import DB_POOL_SIZE
    return DB_POOL_SIZE


def _group(commands: Any, name: str, help_text: str) -> Any:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    return sub.add_subparsers(dest="action", metavar="ACTION", required=True)


def _port(text: str) -> int:
    value = _int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _count(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


# -- output -------------------------------------------------------------------------------

# -- commands -------------------------------------------------------------------------------

def cmd_account_create(args: argparse.Namespace, store: AdminStore) -> None:
    account = admin.create_account(store, args.account_id, args.name)
    emit(args, account, f"created account {account['account_id']}")


def cmd_account_list(args: argparse.Namespace, store: AdminStore) -> None:
    accounts = admin.list_accounts(store)
    emit(args, accounts, table(accounts, [("account_id", "ACCOUNT"), ("display_name", "NAME")],
                               "no accounts"))


def cmd_user_create(args: argparse.Namespace, store: AdminStore) -> None:
    user = admin.create_user(store, args.account_id, args.user)
    emit(args, user, f"created user {user['user']} in account {user['account_id']}")


def cmd_user_list(args: argparse.Namespace, store: AdminStore) -> None:
    users = admin.list_users(store, args.account_id)
    shown = [{**user, "status": "active" if user["active"] else "disabled"} for user in users]
    emit(args, users, table(shown, [("user", "USER"), ("status", "STATUS"),
                                    ("created", "CREATED")], "no users"))


def cmd_key_create(args: argparse.Namespace, store: AdminStore) -> None:
    from .server import check_secrets

    check_secrets(store)            # never a plaintext key among encrypted ones
    key = admin.create_key(store, args.account_id, args.user)
    emit(args, key, f"access key: {key['access_key']}\nsecret key: {key['secret_key']}")
    if not args.json:
        print("The secret key is shown this once only: store it now.", file=sys.stderr)


def cmd_key_list(args: argparse.Namespace, store: AdminStore) -> None:
    keys = admin.list_keys(store, args.account_id)
    rows = [{**key, "status": ("active" if key["active"] else "disabled")
             + (" (session)" if key["session"] else "")} for key in keys]
    emit(args, keys, table(rows, [("access_key", "ACCESS KEY"), ("user", "USER"),
                                  ("status", "STATUS"), ("created", "CREATED"),
                                  ("last_used", "LAST USED")], "no keys"))


def cmd_key_disable(args: argparse.Namespace, store: AdminStore) -> None:
    emit(args, admin.set_key_active(store, args.access_key, False),
         f"disabled key {args.access_key}")


def cmd_key_enable(args: argparse.Namespace, store: AdminStore) -> None:
    emit(args, admin.set_key_active(store, args.access_key, True),
         f"enabled key {args.access_key}")


def cmd_bucket_create(args: argparse.Namespace, store: AdminStore) -> None:
    bucket = admin.create_bucket(store, args.account_id, args.name, args.region)
    emit(args, bucket, f"created bucket {bucket['name']} in {bucket['region']}")


def cmd_bucket_list(args: argparse.Namespace, store: AdminStore) -> None:
    buckets = admin.list_buckets(store, args.account_id)
    columns = [("name", "BUCKET"), ("region", "REGION"), ("created", "CREATED")]
    if args.account_id is None:
        columns.append(("owner", "OWNER"))
    emit(args, buckets, table(buckets, columns, "no buckets"))


def cmd_bucket_delete(args: argparse.Namespace, store: AdminStore) -> None:
    emit(args, admin.delete_bucket(store, args.name), f"deleted bucket {args.name}")


def cmd_serve(args: argparse.Namespace, store: AdminStore) -> None:
    from . import admin, logs, server

    if importlib.util.find_spec("granian") is None:
        raise AdminError(missing_extra_message(ModuleNotFoundError(name="granian")) or "",
                         EXIT_USAGE)
    if (args.certfile is None) != (args.keyfile is None):
        raise AdminError("HTTPS needs both --certfile and --keyfile", EXIT_USAGE)
    for path in filter(None, (args.certfile, args.keyfile)):
        if not os.path.isfile(path):
            raise AdminError(f"no such file: {path}", EXIT_USAGE)
    if args.db == "memory":
        if args.workers not in (None, 1):
            raise AdminError("an in-memory store needs --workers 1: it is one process's, so "
                             "each worker would have its own and never see what another "
                             "stored (use a database, --db sqlite:///PATH, for more)",
                             EXIT_USAGE)
        args.workers = 1
    admin.check_region(args.region)
    try:
        server.check_bind(args.host, args.port)
    except OSError as exc:
        raise AdminError(f"cannot listen on {args.host}:{args.port}: "
                           f"{exc.strerror or exc}") from None
    # Fail now, in one line, if the database is down or its secrets cannot be read.
    plaintext = server.check_secrets(store)
    if plaintext and getattr(store, "secrets", None) is not None:
        print(f"{PROG}: warning: {plaintext} secret keys are stored in plaintext: run "
              f"`s3service secrets encrypt`", file=sys.stderr)
    prometheus = None
    if args.prometheus_port is not None:
        prometheus = check_prometheus(args.prometheus_host, args.prometheus_port, args.port)
    if args.demo:
        demo = admin.ensure_demo(store, region=args.region)
        show_demo(args, demo)
    store.close()                         # workers open their own connections
    # (every request of the workers waits at most this long for the store)
    store.backend_timeout = (server.BACKEND_TIMEOUT if args.backend_timeout is None
                             else args.backend_timeout)
    if hasattr(store, "pool_size"):
        store.pool_size = args.db_pool_size or server.DB_POOL_SIZE
    logs.configure(args.log_level)
    server.log_database_connections(store, args.workers)
    tuning = {"threads": args.threads} if args.threads is not None else {}
    if args.idle_timeout is not None:
        tuning["idle_timeout"] = args.idle_timeout
    if args.send_timeout is not None:
        tuning["send_timeout"] = args.send_timeout
    if args.max_buckets is not None:
        tuning["max_buckets"] = args.max_buckets or None
    server.serve(store, region=args.region, service_hosts=args.service_host, host=args.host,
                 port=args.port, workers=args.workers, log_level=args.log_level,
                 access_log=args.access_log, certfile=args.certfile, keyfile=args.keyfile,
                 metrics=args.metrics or bool(args.metrics_admin),
                 metrics_admins=args.metrics_admin,
                 metrics_retention_days=args.metrics_retention or None, prometheus=prometheus,
                 **tuning)


def check_prometheus(host: str, port: int, serving: int) -> tuple[str, int]:
    """``(host, port)`` for ``--prometheus-port``, once it is known to work; else AdminError."""
    from . import server

    if importlib.util.find_spec("prometheus_client") is None:
        raise AdminError("prometheus_client is not installed: pip install "
                         "'s3service[prometheus]'")
    if port == serving:
        raise AdminError("--prometheus-port must differ from --port", EXIT_USAGE)
    try:
        server.check_bind(host, port)
    except OSError as exc:
        raise AdminError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return host, port


def show_demo(args: argparse.Namespace, demo: dict[str, Any]) -> None:
    host = args.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    scheme = "https" if args.certfile else "http"
    endpoint = (f"{scheme}://[{host}]:{args.port}" if ":" in host
                else f"{scheme}://{host}:{args.port}")
    info = {"endpoint": endpoint, **demo}
    if args.json:
        print(json.dumps(info), flush=True)
        return
    listing = presign("GET", f"{endpoint}/", demo["access_key"], demo["secret_key"],
                      region=demo["region"], expires=DEMO_URL_SECONDS)
    print(f"""\
s3service demo gateway at {endpoint} (region {demo['region']})
  account:    {demo['account_id']} ({demo['display_name']})
  access key: {demo['access_key']}
  secret key: {demo['secret_key']}
  buckets:    {', '.join(demo['buckets']) or '-'}
  database:   {_where(args.db)}

Try it with the AWS CLI (pip install awscli):
  export AWS_ACCESS_KEY_ID={demo['access_key']}
  export AWS_SECRET_ACCESS_KEY={demo['secret_key']}
  export AWS_DEFAULT_REGION={demo['region']}
  aws --endpoint-url {endpoint} s3 ls

or with nothing but Python (a presigned ListBuckets URL, valid for an hour):
  python3 -c "import urllib.request as u; print(u.urlopen('{listing}').read().decode())"

Stop the server with Ctrl-C.
""", flush=True)


def _where(db: str) -> str:
    """The database, as the demo banner shows it (a SQLite file with its full path)."""
    if db == "memory":
        return "memory (gone when the server stops)"
    if db.startswith("sqlite:///") and "?" not in db and db != "sqlite:///:memory:":
        return f"{db} ({os.path.abspath(db[len('sqlite:///'):])})"
    return _safe_url(db)


# -- running a command ---------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .server import DEFAULT_DB, ENV_DB

    if args.db is not None:
        if not hide_in_arguments(_secrets(args.db)):
            print(f"{PROG}: warning: the database password stays visible in this process's "
                  f"command line: give it with --db-file or ${ENV_DB}", file=sys.stderr)
        if args.db_file is not None:
            print(f"{PROG}: error: give --db or --db-file, not both", file=sys.stderr)
            return EXIT_USAGE
    if args.db_file is not None:
        try:
            args.db = read_db_file(args.db_file)
        except AdminError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return exc.exit_code
    db = args.db or os.environ.get(ENV_DB) or DEFAULT_DB
    args.db = db
    if db == "memory" and args.handler is not cmd_serve:
        print(f"{PROG}: error: admin commands need a database (--db memory keeps nothing)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        needs_store = getattr(args, "needs_store", None)
        store = (open_store(db, args.secrets_key_file)
                 if needs_store is None or needs_store(args) else None)
        try:
            if getattr(args, "account_id", None) is not None and \
                    getattr(args, "resolve_account", True):
                args.account_id = admin.resolve_account(store, args.account_id)
            args.handler(args, store)
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:  # every failure becomes one line, never a traceback
        message, code = describe(exc, db)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return code
    return 0


def read_db_file(path: str) -> str:
    """The database URL in the first line of ``path``, refused if other users may read it."""
    try:
        with open(path, encoding="utf-8") as handle:
            if os.fstat(handle.fileno()).st_mode & 0o004:
                raise AdminError(f"{path} is readable by every user: it holds the database "
                                 f"URL (chmod o-r {path})", EXIT_USAGE)
            url = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AdminError(f"cannot read {path}: {reason}", EXIT_USAGE) from None
    if not url:
        raise AdminError(f"{path}: the first line is empty (it should be the database URL)",
                         EXIT_USAGE)
    return url


def open_store(db: str, secrets_key_file: str | None = None) -> AdminStore:
    from .server import open_store as open_db

    if secrets_key_file is None:        # (tests and embedders replace open_store: keep its call)
        return open_db(db)
    return open_db(db, secrets_key_file)


def describe(exc: Exception, db: str) -> tuple[str, int]:
    """A one-line message and exit status for a failed command (no password in it)."""
    from ..backends.base import BackendUnavailable
    from ..backends.secretbox import KeyFileError, SecretUnreadable
    from ..iam import IAMError

    if isinstance(exc, AdminError):
        message, code = str(exc), exc.exit_code
    elif isinstance(exc, IAMError):
        conflict = exc.code in ("LimitExceeded", "DeleteConflict")
        message, code = f"{exc.code}: {exc.text}" if conflict else exc.text, exc.exit_code
    elif isinstance(exc, KeyFileError):
        message, code = str(exc), EXIT_USAGE
    elif isinstance(exc, SecretUnreadable):
        message, code = str(exc), EXIT_FAILED
    elif isinstance(exc, BackendUnavailable):
        message, code = str(exc), EXIT_UNAVAILABLE
    elif isinstance(exc, ImportError):
        message = missing_extra_message(exc) or (
            f"a module the database {_safe_url(db)} needs is not installed: {exc.name or exc}")
        code = EXIT_USAGE
    else:
        message, code = _library_error(exc, db)
    return _scrub(" ".join(message.split()), db), code


def _library_error(exc: Exception, db: str) -> tuple[str, int]:
    try:
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
    except ImportError:
        return f"{type(exc).__name__}: {exc}", EXIT_FAILED
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return f"invalid database URL {_safe_url(db)}: {exc}", EXIT_USAGE
    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return (f"database {_safe_url(db)} failed: {type(exc).__name__}"
                + (f": {detail[0]}" if detail else ""), EXIT_FAILED)
    return f"{type(exc).__name__}: {exc}", EXIT_FAILED


_URL_PASSWORD = re.compile(r"://[^:/@]*:([^@]*)@")
_SECRET_PARAM = re.compile(r"[?&][^=&]*(?:pass|pwd|secret|token)[^=&]*=([^&]*)", re.IGNORECASE)


def _secrets(db: str) -> list[str]:
    """The secrets ``db`` holds: its password and secret parameters (see backends.sql.guard)."""
    try:
        from ..backends.sql.guard import url_secrets

        return url_secrets(db)
    except Exception:   # (no SQLAlchemy, or a URL it cannot parse may still hold some)
        found = [m.group(1) for m in (_URL_PASSWORD.search(db),) if m and m.group(1)]
        return found + [value for value in _SECRET_PARAM.findall(db) if value]


def _safe_url(db: str) -> str:
    try:
        from ..backends.sql.guard import safe_url

        return safe_url(db)
    except Exception:
        return "(unparsable URL)"


def _scrub(text: str, db: str) -> str:
    for secret in _secrets(db):
        text = text.replace(secret, "***")
    return text
