"""The AWS IAM and STS APIs, and the one implementation of each user, key, policy and
group operation that both they and the ``s3service`` command use.

* :class:`IAMLayer` (:mod:`.layer`) -- a WSGI layer answering ``aws iam ...`` and
  ``aws sts ...`` on the S3 endpoint; ``s3service serve`` mounts it, and so may
  any gateway embedding the middleware.
* :mod:`.operations` -- each operation, on any
  :class:`~s3service.backends.protocols.AdminStore`.
* :mod:`.actions` (the API's actions), :mod:`.query` (the query protocol's
  parameters and XML), :mod:`.errors` (IAM's error codes).
"""
from .errors import IAMError
from .layer import IAMLayer, signed_for

__all__ = ["IAMError", "IAMLayer", "signed_for"]
