"""Who may read which metrics: ListMetrics' decision, one named entity at a time.

* A caller reads its own account, its own account's users and the buckets its
  account owns.  A bucket that does not exist, and a user never seen, answer
  zeros.
* Another account, another account's user or bucket: ``AccessDenied`` --
  never an empty answer, which would pass for "no traffic".
* The service level (the whole fleet) is for the operator accounts named as
  ``admins`` only, who may also read any account, user and bucket.

Then every entity is put to the authorizer as ``utapi:ListMetrics`` on its
resource: ``arn:scality:utapi:::service/s3`` or
``arn:scality:utapi::ACCOUNT:LEVEL/NAME`` (the account owning the entity).
"""
from __future__ import annotations

from collections.abc import Collection

from ..authorization import RequestAuthorizer
from ..backends.protocols import BucketDirectory, BucketStore
from ..backends.metrics_base import ACCOUNTS, SERVICE, USERS, Entity
from ..errors import AccessDenied
from ..identity import Identity

#: The action the authorizer is asked about.
LIST_METRICS_ACTION = "utapi:ListMetrics"
#: The resource the authorizer is asked about, per service (``{service}``).
SERVICE_RESOURCE = "arn:scality:utapi:::service/{service}"
#: The resource of an account's, a user's or a bucket's metrics: the account
#: owning it, the level and the name.
ENTITY_RESOURCE = "arn:scality:utapi::{account}:{level}/{name}"

_IAM_ARN = "arn:aws:iam::"


def user_of(name: str, caller: str) -> tuple[str, str] | None:
    """The account and user name a ``users`` entry names; ``None`` for an ARN of no user.

    A plain name is a user of ``caller``'s account; an ARN
    (``arn:aws:iam::ACCOUNT:user/NAME``, ``arn:aws:iam::ACCOUNT:root``) names its
    account.  The root key's user name is the account's ID.
    """
    if not name.startswith(_IAM_ARN):
        return caller, name
    account, _, tail = name[len(_IAM_ARN):].partition(":")
    if account and tail == "root":
        return account, account
    if account and tail.startswith("user/") and len(tail) > len("user/"):
        return account, tail[len("user/"):]
    return None


def bucket_owner(buckets: BucketDirectory | BucketStore | None, caller: str,
                 bucket: str) -> str | None:
    """The account owning ``bucket``, ``None`` if there is no such bucket.

    Asks a :class:`~s3service.backends.protocols.BucketDirectory` (both bundled
    stores are one).  A store that is only a ``BucketStore`` can only say
    whether ``caller`` owns the bucket (``list_buckets(caller, prefix=name,
    limit=1)``); any other bucket is then refused, whether it exists or not.
    """
    if isinstance(buckets, BucketDirectory):
        found = buckets.get_bucket(bucket)
        return None if found is None else found[0]
    if buckets is not None:
        for info in buckets.list_buckets(caller, prefix=bucket, limit=1):
            if info.name == bucket:
                return caller
    raise AccessDenied()


def entity_for(identity: Identity, level: str, name: str, *, authorizer: RequestAuthorizer,
               admins: Collection[str], buckets: BucketDirectory | BucketStore | None
               ) -> Entity | None:
    """What ``identity`` reads when it asks for ``name`` at ``level``; raises ``AccessDenied``.

    ``None``: a bucket that does not exist (its answer is zeros).  ``name`` of
    the users level must be one :func:`user_of` understands.  ``authorizer``
    is the one bound to ``identity`` and the request.
    """
    caller = identity.account_id
    entity: Entity | None
    if level == SERVICE:
        owner, entity = None, Entity.service(name)
        resource = SERVICE_RESOURCE.format(service=name)
    else:
        short = name
        if level == ACCOUNTS:
            owner, entity = name, Entity.for_account(name)
        elif level == USERS:
            owner, short = user_of(name, caller) or (caller, name)
            entity = Entity(USERS, owner, short)
        else:
            owner = bucket_owner(buckets, caller, name)
            entity = None if owner is None else Entity.bucket(name, owner)
        resource = ENTITY_RESOURCE.format(account=owner or caller, level=level, name=short)
    if caller not in admins and (level == SERVICE or (owner is not None and owner != caller)):
        raise AccessDenied()
    if not authorizer.is_allowed(LIST_METRICS_ACTION, resource):
        raise AccessDenied()
    return entity
