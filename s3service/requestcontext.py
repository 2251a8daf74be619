"""Kept for imports written before :mod:`s3service.authorization` held these names."""
from .authorization import KNOWN_KEYS, RequestAuthorizer, RequestContext, key_getter

__all__ = ["KNOWN_KEYS", "RequestAuthorizer", "RequestContext", "key_getter"]
