"""How a phone number becomes a portal sign-in without accounts knowing about members.

Higher apps register a resolver (``members`` does, for enrolled members without a login yet); the
adapter asks them when no portal user has the phone. Dependencies keep pointing one way.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import User

PhoneResolver = Callable[[str], User | None]
_resolvers: list[PhoneResolver] = []


def register_phone_resolver(resolver: PhoneResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def portal_user_for_phone(phone: str) -> User | None:
    user = User.objects.filter(phone=phone, kind=User.Kind.MEMBER).first()
    if user is not None:
        return user if user.is_active else None
    for resolver in _resolvers:
        user = resolver(phone)
        if user is not None:
            return user
    return None
