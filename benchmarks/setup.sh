#!/bin/sh
# Installs what benchmarks/deployed.py needs besides the Python packages:
#   - wrk, the HTTP load generator (apt-get, when it is missing);
#   - s3rver 3 (npm), the peer, into ${S3RVER_PREFIX:-$HOME/.cache/s3service-bench},
#     outside the repository so that no node_modules/ or package*.json lands in it.
# deployed.py looks for s3rver there (same variable), or takes --s3rver PATH.
#
# Usage: sh benchmarks/setup.sh          (run again at any time: it only adds what is missing)
set -eu

prefix="${S3RVER_PREFIX:-$HOME/.cache/s3service-bench}"

if command -v wrk >/dev/null 2>&1; then
    echo "wrk: $(command -v wrk)"
else
    echo "wrk: installing with apt-get"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y wrk
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: install Node.js (e.g. apt-get install -y nodejs npm) and run this again" >&2
    exit 1
fi
mkdir -p "$prefix"
if [ -x "$prefix/node_modules/.bin/s3rver" ]; then
    echo "s3rver: $prefix/node_modules/.bin/s3rver (already installed)"
else
    echo "s3rver: installing s3rver@3 into $prefix"
    npm install --prefix "$prefix" --no-audit --no-fund s3rver@3
fi
"$prefix/node_modules/.bin/s3rver" --version
