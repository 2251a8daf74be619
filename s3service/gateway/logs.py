"""How ``s3service serve`` writes its log: every record on standard error, one line each.

The library logs a line per request; with logging's stock formatter each line
formats the clock afresh.  :class:`LogFormatter` writes the same text
(``2026-01-02 03:04:05,678 [pid] [INFO] s3service: ...``) but formats the
date and time of day once a second.
"""
from __future__ import annotations

import logging
import sys
import time

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class LogFormatter(logging.Formatter):
    """:data:`FORMAT`, with the seconds part of ``asctime`` made once per second."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if self._second[0] != second:
            self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second)))
        return "%s,%03d" % (self._second[1], record.msecs)


def configure(level: str) -> None:
    """Log records of ``level`` and above on standard error, as :class:`LogFormatter` writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
