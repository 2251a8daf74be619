"""``python -m s3service``: the ``s3service`` command (see :mod:`s3service.gateway.cli`)."""
import sys

from .gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
