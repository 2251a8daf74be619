"""``s3service metrics``: the range it asks for, and the mistakes it refuses (in-process).

What it prints against a real server is tests/integration/test_prometheus.py's.
"""
from __future__ import annotations

import pytest

from s3service.backends.metrics_base import INTERVAL_MS
from s3service.gateway.admin import AdminError
from s3service.gateway.metricscli import parse_since, parse_time, time_range
from tests.helpers.cliserver import run_cli

NOW = parse_time("2026-12-07T05:23:41.123Z")


def test_since_covers_whole_intervals_up_to_the_end_of_the_current_one():
    start, end = time_range(NOW, since="1h")
    assert start == parse_time("2026-12-07T04:15:00Z")
    assert end == parse_time("2026-12-07T05:30:00Z") - 1
    assert start % INTERVAL_MS == 0 and (end + 1) % INTERVAL_MS == 0
    assert time_range(NOW) == (start, end)                     # --since 1h by default
    assert parse_since("1h30m") == parse_since("90m") == 5400


def test_start_and_end_are_widened_to_their_intervals():
    assert time_range(NOW, start="2026-12-07 01:07", end="2026-12-07T02:10:00+01:00") == (
        parse_time("2026-12-07T01:00Z"), parse_time("2026-12-07T01:15Z") - 1)
    assert time_range(NOW, start=str(parse_time("2026-12-07T03:00Z")))[1] == \
        parse_time("2026-12-07T05:30Z") - 1


@pytest.mark.parametrize("options", [{"since": "soon"}, {"since": "0m"}, {"start": "yesterday"},
                                     {"end": "2026-12-07"},
                                     {"start": "2026-12-07T05:00", "end": "2026-12-07T04:00"}])
def test_a_bad_range_is_refused(options):
    with pytest.raises(AdminError) as refused:
        time_range(NOW, **options)
    assert refused.value.exit_code == 2


def test_usage_errors_are_one_line_and_touch_no_store(tmp_path):
    for argv, message in [
            (["metrics", "--endpoint-url", "http://127.0.0.1:9"], "needs a key"),
            (["metrics", "--level", "accounts", "--endpoint-url", "http://127.0.0.1:9"],
             "name the accounts"),
            (["metrics", "--json", "--chart"], "--json or --chart"),
            (["metrics", "--since", "1h", "--start", "2026-01-01"], "not allowed with")]:
        result = run_cli(*argv, cwd=tmp_path)
        assert result.returncode == 2, (argv, result)
        assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []           # (no s3service.db made on the way)


def test_an_endpoint_that_does_not_answer_is_one_line(tmp_path):
    result = run_cli("metrics", "--endpoint-url", "http://127.0.0.1:9",
                     env={"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"},
                     cwd=tmp_path)
    assert result.returncode == 3 and "cannot reach http://127.0.0.1:9" in result.stderr
    assert "secret" not in result.stderr
