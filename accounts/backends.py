"""Authentication backend: Django's, with each user's permission set cached.

Every staff page checks permissions; ModelBackend costs two queries per request for them. The set
is cached per user under a version that any change of roles, group permissions or user flags bumps,
so a changed role takes effect on the next request."""

from __future__ import annotations

import time

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

VERSION_KEY = "scrm:perms:version"
TTL = 600


def permissions_version() -> int:
    """A version that only moves forward: a clock reading, so that a version lost from the cache
    is replaced by a new one and no set cached under an old version is ever read again."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), None)
        version = cache.get(VERSION_KEY) or time.time_ns()
    return int(version)


def permissions_changed(**_kwargs) -> None:
    cache.set(VERSION_KEY, time.time_ns(), None)


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = f"scrm:perms:{permissions_version()}:{user_obj.pk}"
            perms = cache.get(key)
            if perms is None:
                perms = super().get_all_permissions(user_obj)
                cache.set(key, perms, TTL)
            user_obj._perm_cache = perms
        return user_obj._perm_cache
