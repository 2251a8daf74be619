"""``s3service metrics``: the utilization metrics of the service, accounts, users or buckets.

Usage::

    s3service metrics [--level service|accounts|users|buckets] [NAME...]
                      [--since 1h | --start T [--end T]] [--json] [--chart]
                      [--endpoint-url URL [--access-key K --secret-key S] [--region R]]

With ``--endpoint-url`` the command asks a running gateway (ListMetrics,
SigV4-signed for the service ``s3``) with the key given, else the one in
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``);
the gateway decides what that key may read.  Without it the command reads
the store itself (``--db``...), as an operator: every level, every name.

The range is whole 15-minute intervals: ``--since`` (``90m``, ``1h``, ``2d``:
from the start of the interval that long ago to the end of the current one),
or ``--start`` and ``--end`` (ISO 8601, UTC unless an offset is given, or
epoch milliseconds), widened to the intervals they fall in.  The default is
``--since 1h``.  The output is a table of each entity's requests per
operation, bytes in and out, storage and objects; ``--json`` prints
ListMetrics' own answer; ``--chart`` draws each entity's requests and bytes
per interval.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..backends.metrics_base import (ACCOUNTS, BUCKETS, INTERVAL_MS, LEVELS, SERVICE, USERS,
                                     Entity, MetricsTotals, interval_start)
from ..backends.protocols import MetricsStore
from ..metrics.access import user_of
from ..metrics.api import render_metrics
from ..regions import DEFAULT_REGION
from .admin import AdminError
from .metricsview import chart, summary

__all__ = ["parse_since", "parse_time", "register", "time_range"]

EXIT_USAGE = 2
DEFAULT_SINCE = "1h"
#: Most intervals a chart draws (a week of 15-minute rows is 672).
MAX_CHART_INTERVALS = 2000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)


def register(commands: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``metrics`` command to the ``s3service`` parser."""
    sub = command(commands, "metrics", cmd_metrics,
                  "show utilization metrics (requests, bytes, storage) of the service, "
                  "accounts, users or buckets")
    sub.add_argument("names", nargs="*", metavar="NAME",
                     help="accounts (IDs), users (names, or ARNs without --endpoint-url) or "
                          "buckets (default: s3 for the service; every account or bucket "
                          "when reading the store)")
    sub.add_argument("--level", choices=LEVELS, default=SERVICE,
                     help="what the names are (default: %(default)s)")
    when = sub.add_mutually_exclusive_group()
    when.add_argument("--since", metavar="DURATION", default=None,
                      help="from this long ago until now, e.g. 90m, 1h, 2d (default: 1h)")
    when.add_argument("--start", metavar="TIME", default=None,
                      help="ISO 8601 time (UTC unless it says otherwise) or epoch ms")
    sub.add_argument("--end", metavar="TIME", default=None,
                     help="with --start (default: now)")
    sub.add_argument("--chart", action="store_true",
                     help="draw requests and bytes per 15-minute interval")
    sub.add_argument("--endpoint-url", metavar="URL", default=None,
                     help="ask this gateway (ListMetrics) instead of reading the store")
    sub.add_argument("--access-key", metavar="KEY", default=None,
                     help="with --endpoint-url (default: $AWS_ACCESS_KEY_ID)")
    sub.add_argument("--secret-key", metavar="SECRET", default=None,
                     help="with --endpoint-url (default: $AWS_SECRET_ACCESS_KEY)")
    sub.add_argument("--region", default=None,
                     help="the region to sign for (default: $AWS_REGION, $AWS_DEFAULT_REGION "
                          f"or {DEFAULT_REGION})")
    sub.set_defaults(needs_store=lambda args: args.endpoint_url is None)


# -- the time range (pure) ------------------------------------------------------------

def parse_since(text: str) -> float:
    """Seconds in ``90m``, ``1h``, ``2d``, ``1h30m``...; raises AdminError."""
    text = text.strip()
    total, at = 0.0, 0
    for match in _SINCE.finditer(text):
        if match.start() != at and text[at:match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        at = match.end()
    if at != len(text) or total <= 0:
        raise AdminError(f"not a duration: {text!r} (e.g. 90m, 1h, 2d)", EXIT_USAGE)
    return total


def parse_time(text: str) -> int:
    """Epoch milliseconds of ``text`` (ISO 8601, UTC unless it has an offset; or epoch ms)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                      else text)
    except ValueError:
        raise AdminError(f"not a time: {text!r} (ISO 8601, e.g. 2026-01-02T03:00, or "
                         f"epoch milliseconds)", EXIT_USAGE) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def time_range(now_ms: int, since: str | None = None, start: str | None = None,
               end: str | None = None) -> tuple[int, int]:
    """``(start, end)`` in epoch ms, on 15-minute boundaries as ListMetrics wants them.

    The start is the first millisecond of its interval, the end the last of its own.
    """
    if end is not None and start is None:
        raise AdminError("--end needs --start", EXIT_USAGE)
    if start is not None:
        first = parse_time(start)
        last = now_ms if end is None else parse_time(end)
    else:
        first = now_ms - int(parse_since(since or DEFAULT_SINCE) * 1000)
        last = now_ms
    if last < first:
        raise AdminError("the end is before the start", EXIT_USAGE)
    return interval_start(max(first, 0)), interval_start(last) + INTERVAL_MS - 1


def intervals(start: int, end: int) -> list[tuple[int, int]]:
    """The 15-minute intervals from ``start`` to ``end`` (both on boundaries)."""
    return [(at, at + INTERVAL_MS - 1) for at in range(start, end, INTERVAL_MS)]


# -- where the figures come from -------------------------------------------------------

Source = Callable[[tuple[int, int]], list[dict[str, Any]]]


def from_store(store: Any, level: str, names: list[str]) -> Source:
    """ListMetrics' answer, read from the store itself, for ``names`` at ``level``."""
    if not isinstance(store, MetricsStore):
        raise AdminError("this store keeps no metrics")
    entities = [(name, _entity(store, level, name)) for name in names]

    def read(span: tuple[int, int]) -> list[dict[str, Any]]:
        return [render_metrics(name, span, MetricsTotals() if entity is None
                               else store.get_metrics(*span, entity), level=level)
                for name, entity in entities]
    return read


def _entity(store: Any, level: str, name: str) -> Entity | None:
    """The entity ``name`` names at ``level`` (``None``: a bucket that does not exist)."""
    if level == SERVICE:
        return Entity.service(name)
    if level == ACCOUNTS:
        return Entity.for_account(name)
    if level == USERS:
        found = user_of(name, "")
        if found is None or not found[0]:
            raise AdminError(f"name a user by its ARN (arn:aws:iam::ACCOUNT:user/NAME): "
                             f"{name!r}", EXIT_USAGE)
        return Entity.user(*found)
    owner = store.get_bucket(name)
    return None if owner is None else Entity.bucket(name, owner[0])


def from_endpoint(args: argparse.Namespace, level: str, names: list[str]) -> Source:
    """ListMetrics' answer from the gateway at ``--endpoint-url``."""
    from ..metrics.client import list_metrics

    access_key = args.access_key or os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = args.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        raise AdminError("--endpoint-url needs a key: --access-key and --secret-key, or "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", EXIT_USAGE)
    region = (args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
              or DEFAULT_REGION)
    token = None if args.access_key else os.environ.get("AWS_SESSION_TOKEN")

    def read(span: tuple[int, int]) -> list[dict[str, Any]]:
        return list_metrics(args.endpoint_url, {"timeRange": list(span), level: names},
                            access_key=access_key, secret_key=secret_key, region=region,
                            session_token=token)
    return read


def default_names(store: Any, level: str, remote: bool) -> list[str]:
    if level == SERVICE:
        return ["s3"]
    if remote or store is None:
        raise AdminError(f"name the {level} to show", EXIT_USAGE)
    if level == ACCOUNTS:
        return [account for account, _ in store.list_accounts()]
    if level == BUCKETS:
        return sorted(info.name for account, _ in store.list_accounts()
                      for info in store.list_buckets(account))
    raise AdminError("name the users to show (arn:aws:iam::ACCOUNT:user/NAME)", EXIT_USAGE)


# -- the command -------------------------------------------------------------------------

def cmd_metrics(args: argparse.Namespace, store: Any) -> None:
    from ..metrics.client import MetricsRequestError

    if args.json and args.chart:
        raise AdminError("give --json or --chart, not both", EXIT_USAGE)
    remote = args.endpoint_url is not None
    if not remote and (args.access_key or args.secret_key):
        raise AdminError("--access-key and --secret-key go with --endpoint-url", EXIT_USAGE)
    span = time_range(int(time.time() * 1000), args.since, args.start, args.end)
    names = list(dict.fromkeys(args.names)) or default_names(store, args.level, remote)
    if not names:
        emit_empty(args)
        return
    read = from_endpoint(args, args.level, names) if remote \
        else from_store(store, args.level, names)
    try:
        if args.chart:
            parts = intervals(*span)
            if len(parts) > MAX_CHART_INTERVALS:
                raise AdminError(f"a chart draws at most {MAX_CHART_INTERVALS} intervals: "
                                 "shorten the range", EXIT_USAGE)
            answers = [read(part) for part in parts]
            mark = _mark()
            print("\n\n".join(chart(args.level, name, [answer[i] for answer in answers], mark)
                              for i, name in enumerate(names)))
            return
        answer = read(span)
    except MetricsRequestError as exc:
        raise AdminError(f"the endpoint refused ListMetrics ({exc.status}): {exc}") from None
    except OSError as exc:
        raise AdminError(f"cannot reach {args.endpoint_url}: {exc.strerror or exc}", 3) \
            from None
    if args.json:
        print(json.dumps(answer))
    else:
        print(summary(args.level, answer))


def emit_empty(args: argparse.Namespace) -> None:
    print("[]" if args.json else f"no {args.level}")


def _mark() -> str:
    """The bar character: a full block where standard output can show it."""
    try:
        "\u2588".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "#"
    return "\u2588"
