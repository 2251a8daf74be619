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


def test_gunicorns_own_lines_are_written_in_the_same_format(tmp_path):
    import re

    from gunicorn.config import Config

    from s3service.gateway.logs import GunicornLogger

    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = GunicornLogger(cfg)
    logger.info("Booting worker with pid: %s", 42)
    ours = logging.LogRecord("s3service", logging.INFO, __file__, 1, "ready", None, None)
    line = (tmp_path / "error.log").read_text().splitlines()[-1]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[\d+\] \[INFO\] "
    assert re.fullmatch(stamp + "gunicorn: Booting worker with pid: 42", line), line
    assert re.fullmatch(stamp + "s3service: ready", LogFormatter().format(ours))
