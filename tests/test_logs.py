"""serve's log: the same line logging's stock formatter writes, for the library's own lines."""
from __future__ import annotations

import logging

from s3service.gateway.logs import FORMAT, LogFormatter


def test_lines_are_those_of_the_stock_formatter():
    ours, stock = LogFormatter(), logging.Formatter(FORMAT)
    for created in (1700000000.0, 1700000000.999, 1700000001.5, 1700000001.5004, 1600000000.25):
        record = logging.LogRecord("s3service", logging.INFO, __file__, 1, "%s %s %d %s %s",
                                   ("0123456789ABCDEF", "GET", 200, "-", "AKID"), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == stock.format(record)
