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


# -- the batching handler serve writes its lines through ----------------------------------

def _batching(stream, delay: float = 0.05):
    from s3service.gateway.logs import BatchingHandler

    handler = BatchingHandler(stream)
    handler.delay = delay
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"s3service.test-batching-{id(handler)}")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    return logger, handler


def test_lines_from_many_threads_all_arrive_in_each_threads_order():
    import io
    import threading
    import time

    stream = io.StringIO()
    logger, handler = _batching(stream)
    threads = [threading.Thread(target=lambda n=n: [logger.info("t%d %d", n, i)
                                                   for i in range(2000)]) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while stream.getvalue().count("\n") < 16000 and time.monotonic() < deadline:
        time.sleep(0.02)                    # (written by the handler's thread, not by flush())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 16000
    for n in range(8):
        assert [line for line in lines if line.startswith(f"INFO t{n} ")] == \
            [f"INFO t{n} {i}" for i in range(2000)]


def test_a_warning_is_written_at_once_after_the_lines_before_it():
    import io

    stream = io.StringIO()
    logger, handler = _batching(stream, delay=3600)
    logger.info("first")
    assert stream.getvalue() == ""          # pending
    logger.warning("then this")
    assert stream.getvalue() == "INFO first\nWARNING then this\n"
    logger.info("last")
    logging.shutdown([lambda: handler])    # what an exiting process does
    assert stream.getvalue().endswith("INFO last\n")


def test_a_forked_child_leaves_its_parents_queued_lines_to_the_parent(tmp_path):
    import os

    path = tmp_path / "log"
    with open(path, "w") as stream:
        logger, handler = _batching(stream, delay=3600)
        logger.info("the parent's")
        pid = os.fork()
        if pid == 0:                        # the child
            logger.info("the child's")
            handler.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        handler.flush()
    assert path.read_text().splitlines() == ["INFO the child's", "INFO the parent's"]
