"""A real browser meets a bucket's CORS rules: headless Chromium, another origin, the AWS JS SDK.

``examples/objectgateway.py`` runs under gunicorn; a second tiny HTTP server,
on another port (so another origin), serves ``tests/browser/page.html`` and the
AWS SDK for JavaScript's browser bundle (``npm ci --prefix tests/browser``).
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by selenium)
opens the page, which uploads an object through a presigned PUT URL and lists
the bucket with the SDK: refused by the browser while the bucket has no CORS
rule (nothing is written), done once it has one.

Skipped when Chromium, its driver, selenium or the SDK bundle is missing --
except under CI (``CI=true``), where ``.ci/run`` installs them and a missing
one is a failure.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from . import seed
from .conftest import boto3_client, start_server

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
SDK_BUNDLE = BROWSER_DIR / "node_modules" / "aws-sdk" / "dist" / "aws-sdk.min.js"
BUCKET = "browser-bucket"
BODY = "uploaded by a page on another origin"


def _needed() -> tuple[str, str]:
    """Chromium and its driver; skip (fail under CI) when anything the test needs is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, found in (("chromium", chromium), ("chromium-driver", driver),
                                        ("the AWS SDK bundle (npm ci --prefix tests/browser)",
                                         SDK_BUNDLE.is_file())) if not found]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        message = "the browser test needs " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run installs them)", pytrace=False)
        pytest.skip(message)
    return chromium, driver


class _PageServer(BaseHTTPRequestHandler):
    """The page's origin: the page and the SDK bundle, nothing else."""

    files = {"/page.html": (BROWSER_DIR / "page.html", "text/html; charset=utf-8"),
             "/aws-sdk.min.js": (SDK_BUNDLE, "application/javascript")}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        found = self.files.get(self.path)
        if found is None:
            self.send_error(404)
            return
        data = found[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", found[1])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _needed()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page_origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, browser):
    for server in start_server(tmp_path_factory.mktemp("browser-server"), "browser",
                               app="object_gateway_app:app",
                               S3SERVICE_TEST_OBJECTS=str(tmp_path_factory.mktemp("objects"))):
        boto3_client(server, seed.ROOT_KEY, seed.ROOT_SECRET).create_bucket(Bucket=BUCKET)
        yield server


def run_page(browser, page_origin: str, gateway, key: str) -> dict:
    browser.get(page_origin + "/page.html")
    config = {"endpoint": gateway.url, "region": seed.REGION, "accessKey": seed.ROOT_KEY,
              "secretKey": seed.ROOT_SECRET, "bucket": BUCKET, "key": key, "body": BODY}
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"run({json.dumps(config)}).then(done, error => done({{failed: String(error)}}));")


def test_a_page_on_another_origin_uploads_and_lists_only_with_a_cors_rule(
        browser, page_origin, gateway):
    s3 = boto3_client(gateway, seed.ROOT_KEY, seed.ROOT_SECRET)

    refused = run_page(browser, page_origin, gateway, "refused.txt")
    assert str(refused.get("put")).startswith("error: TypeError"), refused
    assert str(refused.get("list")).startswith("error:"), refused
    with pytest.raises(ClientError):             # the preflight failed: no PUT was sent
        s3.head_object(Bucket=BUCKET, Key="refused.txt")

    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [page_origin], "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 0}]})
    allowed = run_page(browser, page_origin, gateway, "from-the-page.txt")
    assert allowed.get("put") == 200, allowed
    assert allowed.get("etag") == f'"{hashlib.md5(BODY.encode()).hexdigest()}"', allowed
    assert allowed.get("keys") == ["from-the-page.txt"], allowed
    stored = s3.get_object(Bucket=BUCKET, Key="from-the-page.txt")["Body"].read()
    assert stored == BODY.encode()
