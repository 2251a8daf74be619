"""Regions: the one S3 region every endpoint knows, and what a region name looks like."""
from __future__ import annotations

import re

#: The region of a bucket created without a ``LocationConstraint``, and the
#: region an endpoint signs for unless told otherwise.
DEFAULT_REGION = "us-east-1"

_REGION_NAME = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+)*-\d+")


def looks_like_region(name: str) -> bool:
    """Whether ``name`` has the form of an AWS region name (``eu-west-1``, ``us-gov-east-1``)."""
    return _REGION_NAME.fullmatch(name) is not None
