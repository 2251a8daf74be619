"""IAM identity policies: AWS's policy language and evaluation logic, and the authorizer using them.

:class:`PolicyAuthorizer` decides each request of an IAM user with the
policies a :class:`~s3service.backends.protocols.PolicySource` keeps for
it (both bundled stores are ones); the account's own keys may do everything::

    from s3service.policies import PolicyAuthorizer

    app = S3ServiceMiddleware(gateway_app, credentials=store, buckets=store,
                              authorizer=PolicyAuthorizer(store))

The pieces: :mod:`.document` (parsing and checking, with the line of each
mistake), :mod:`.matching` (wildcards), :mod:`.conditions` (operators),
:mod:`.variables` (``${aws:username}``), :mod:`.evaluate` (the decision and
the statement that made it).  The condition keys a request has are listed in
:mod:`s3service.authorization`.
"""
from .authorizer import PolicyAuthorizer
from .document import Policy, Statement, parse_policy
from .errors import PolicyError
from .evaluate import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY, Decision, evaluate

__all__ = ["ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY", "Decision", "Policy", "PolicyAuthorizer",
           "PolicyError", "Statement", "evaluate", "parse_policy"]
