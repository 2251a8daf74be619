"""How ``s3service metrics`` shows ListMetrics' answers: a table, or a chart per interval.

Pure functions of the answers (each ListMetrics object, as
:func:`~s3service.metrics.api.render_metrics` makes it) to text.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..metrics.api import ANSWER_KEYS
from .output import printable, table

__all__ = ["WIDTH", "chart", "describe_range", "entity_name", "summary"]

#: Characters of the longest bar of a chart.
WIDTH = 30


def entity_name(answer: dict[str, Any]) -> str:
    """The entity an answer object is about (its ``serviceName``, ``accountId``...)."""
    for key in ANSWER_KEYS.values():
        if key in answer:
            return str(answer[key])
    return "?"


def utc(ms: int, with_seconds: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M",
                         time.gmtime(ms // 1000))


def describe_range(time_range: Sequence[int]) -> str:
    """``2026-12-07 04:00 to 05:14:59 UTC`` (the end's date only when it differs)."""
    start, end = utc(time_range[0]), utc(time_range[1], with_seconds=True)
    if end[:10] == start[:10]:
        end = end[11:]
    return f"{start} to {end} UTC"


def summary(level: str, answers: Sequence[dict[str, Any]]) -> str:
    """Each entity's requests by operation (those that happened), bytes, storage and objects."""
    blocks = []
    for answer in answers:
        rows = [{"operation": name, "requests": count}
                for name, count in sorted(answer["operations"].items()) if count]
        total = sum(row["requests"] for row in rows)
        lines = [f"{level} {printable(entity_name(answer))}: "
                 f"{describe_range(answer['timeRange'])}"]
        lines.append(table(rows + [{"operation": "total", "requests": total}],
                           [("operation", "OPERATION"), ("requests", "REQUESTS")], ""))
        storage, objects = answer["storageUtilized"], answer["numberOfObjects"]
        lines.append(f"incoming bytes: {answer['incomingBytes']}  "
                     f"outgoing bytes: {answer['outgoingBytes']}")
        lines.append(f"storage: {storage[0]} -> {storage[1]} bytes  "
                     f"objects: {objects[0]} -> {objects[1]}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _bar(value: int, largest: int, mark: str) -> str:
    if value <= 0 or largest <= 0:
        return ""
    return mark * max(1, round(WIDTH * value / largest))


def chart(level: str, name: str, intervals: Sequence[dict[str, Any]], mark: str = "#") -> str:
    """Requests and bytes (in + out) per interval of one entity, as rows of bars.

    ``intervals``: the entity's answer for each interval, oldest first.  Each
    row reads ``START  REQUESTS-BAR COUNT  BYTES-BAR BYTES (IN in, OUT out)``.
    """
    rows = []
    for answer in intervals:
        requests = sum(answer["operations"].values())
        received, sent = answer["incomingBytes"], answer["outgoingBytes"]
        rows.append((utc(answer["timeRange"][0]), requests, received, sent))
    most_requests = max((row[1] for row in rows), default=0)
    most_bytes = max((row[2] + row[3] for row in rows), default=0)
    count_width = max((len(str(row[1])) for row in rows), default=1)
    bytes_width = max((len(str(row[2] + row[3])) for row in rows), default=1)
    lines = [f"{level} {printable(name)}: requests and bytes per 15 minutes (UTC)"]
    lines.append(f"{'INTERVAL':16}  {'REQUESTS':{WIDTH + count_width + 1}}  BYTES (IN, OUT)")
    for start, requests, received, sent in rows:
        lines.append(
            f"{start:16}  {_bar(requests, most_requests, mark):{WIDTH}} "
            f"{requests:>{count_width}}  {_bar(received + sent, most_bytes, mark):{WIDTH}} "
            f"{received + sent:>{bytes_width}} ({received} in, {sent} out)".rstrip())
    return "\n".join(lines)
