"""IAM's errors: one class per code, answered as IAM's ``ErrorResponse`` by the API
(:mod:`.layer`) and as one line with an exit status by the ``s3service`` command.

They are :class:`~s3service.errors.S3Error` subclasses, so the envelope answers
them (and only their message: never a secret).  ``exit_code`` is what the
command exits with: 2 for bad input, 1 for a request that failed.
"""
from __future__ import annotations

from typing import ClassVar

from ..errors import S3Error

__all__ = ["AccessDenied", "DeleteConflict", "EntityAlreadyExists", "IAMError",
           "InvalidAction", "InvalidClientTokenId", "InvalidInput", "LimitExceeded",
           "MalformedPolicyDocument", "MissingAction", "NoSuchEntity", "ValidationError"]


class IAMError(S3Error):
    """An IAM error; ``sender`` is False for the service's own failures (``Type`` Receiver)."""

    exit_code: ClassVar[int] = 1
    sender: ClassVar[bool] = True


def _error(code: str, status: int, message: str, exit_code: int = 1) -> type[IAMError]:
    return type(code, (IAMError,), {"code": code, "status": status, "message": message,
                                    "exit_code": exit_code, "__module__": __name__,
                                    "__doc__": f"``{status} {code}``: {message}"})


NoSuchEntity = _error("NoSuchEntity", 404, "The entity does not exist.")
EntityAlreadyExists = _error("EntityAlreadyExists", 409, "The entity already exists.")
DeleteConflict = _error("DeleteConflict", 409, "The entity is still in use.")
LimitExceeded = _error("LimitExceeded", 409, "A limit was exceeded.")
MalformedPolicyDocument = _error("MalformedPolicyDocument", 400,
                                 "The policy document is malformed.", exit_code=2)
ValidationError = _error("ValidationError", 400, "A parameter is not valid.", exit_code=2)
InvalidInput = _error("InvalidInput", 400, "A parameter is not valid.", exit_code=2)
AccessDenied = _error("AccessDenied", 403, "You are not authorized to perform this operation.")
InvalidAction = _error("InvalidAction", 400, "The action is not valid for this endpoint.",
                       exit_code=2)
MissingAction = _error("MissingAction", 400, "The request must contain the parameter Action.",
                       exit_code=2)
InvalidClientTokenId = _error("InvalidClientTokenId", 403,
                              "The security token included in the request is invalid.")
