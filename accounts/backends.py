"""Authentication backend: Django's, with each user's permission set cached.

Every staff page checks permissions; ModelBackend costs two queries per request for them. The set
is cached per user under a version that any change of roles, group permissions or user flags bumps,
so a changed role takes effect on the next request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

VERSION_KEY = "scrm:perms:version"
TTL = 600


def permissions_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, None)
        version = cache.get(VERSION_KEY) or 1
    return int(version)


def permissions_changed(**_kwargs) -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, None)


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
