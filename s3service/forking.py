"""Running a function in every child process this one forks (gunicorn's workers).

Pre-forking servers copy the master's memory, locks and random state into each
worker; state that must not be shared is renewed in the child with
:func:`in_each_child`.
"""
from __future__ import annotations

import os
from collections.abc import Callable


def in_each_child(renew: Callable[[], None]) -> None:
    """Call ``renew()`` in each child right after a fork.

    Where the platform cannot fork (``os.register_at_fork`` is missing) there
    is no child to renew anything in, so this does nothing.
    """
    register = getattr(os, "register_at_fork", None)
    if register is not None:
        register(after_in_child=renew)
