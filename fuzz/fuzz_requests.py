#!/usr/bin/env python
"""Drive malformed requests through S3ServiceMiddleware in-process and check every answer.

Usage::

    python fuzz/fuzz_requests.py --count 100000 [--seed N] [--faults 0.02]

The engine (the requests, the mutations and the oracle of what an S3 answer
is) is the tests' own, ``tests/helpers/fuzzing.py``: the test suite runs a
short round of the same thing.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: s3service, tests

from tests.helpers.fuzzing import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
