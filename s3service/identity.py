"""Who sent a request, once its signature has been checked."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated requester.

    ``account_id`` is the canonical user ID of the account that owns the
    resources; for an IAM user it is the parent account's ID, so the user sees
    the account's buckets.  ``user`` is the IAM user's name, or ``None`` when
    the account's own (root) key signed the request.
    """

    account_id: str
    display_name: str
    access_key: str
    user: str | None = None
    signature_version: str = "v4"  # "v2" or "v4"

    @property
    def arn(self) -> str:
        """An ARN-like name for logs and authorizers (``arn:aws:iam::ID:user/NAME``)."""
        if self.user is None:
            return f"arn:aws:iam::{self.account_id}:root"
        return f"arn:aws:iam::{self.account_id}:user/{self.user}"
