"""Guesses at SMS sign-in codes, counted atomically in the shared cache (Redis in production).

A count kept in the session can be raced (60 parallel guesses with one session tried 56 codes) and
a count per code can be reset by asking for a new code every minute. So every guess is counted
before it is checked, with an atomic increment shared by every web process, three ways:

- per code issued: at most ``PER_CODE`` (5) guesses, then the code is void;
- per phone: at most ``PER_PHONE`` (10) in an hour, across codes;
- per IP address: at most ``PER_IP`` (50) in an hour, across phones;

and when a phone's code or its hour is used up, sign-in by code for that phone is locked for
``SCRM_CODE_LOCK_SECONDS`` (15 minutes), with a message saying so. A guess over a limit is refused
without being compared to the code.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache

PER_CODE = 5
PER_PHONE = 10
PER_IP = 50
HOUR = 3600

LOCK_KEY = "scrm:login-code-lock:{phone}"
ISSUE_KEY = "scrm:login-code-issue:{phone}"
CODE_GUESSES_KEY = "scrm:login-code-guesses:{issue}"
PHONE_GUESSES_KEY = "scrm:login-code-guesses-phone:{phone}"
IP_GUESSES_KEY = "scrm:login-code-guesses-ip:{ip}"


def _incr(key: str, timeout: int) -> int:
    """Add one to a counter that lives ``timeout`` seconds from its first count; atomic in Redis
    (SET NX, then INCR)."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def code_issued(phone: str) -> None:
    """A new code went to ``phone``: its own guesses start from zero (the hour's do not)."""
    cache.set(ISSUE_KEY.format(phone=phone), secrets.token_hex(8), timeout=HOUR)


def phone_locked(phone: str) -> bool:
    return bool(cache.get(LOCK_KEY.format(phone=phone)))


def phone_lock(phone: str) -> None:
    cache.set(LOCK_KEY.format(phone=phone), 1, timeout=settings.SCRM_CODE_LOCK_SECONDS)


def guess_refused(*, phone: str, ip: str | None) -> str | None:
    """Count one guess at ``phone``'s code. Returns why it may not be checked ("locked", "code",
    "phone" or "ip"), or None when it may. Using up a code or the phone's hour locks the phone."""
    if phone_locked(phone):
        return "locked"
    issue = cache.get(ISSUE_KEY.format(phone=phone)) or f"none:{phone}"
    on_code = _incr(CODE_GUESSES_KEY.format(issue=issue), HOUR)
    on_phone = _incr(PHONE_GUESSES_KEY.format(phone=phone), HOUR)
    on_ip = _incr(IP_GUESSES_KEY.format(ip=ip or "unknown"), HOUR)
    if on_code > PER_CODE or on_phone > PER_PHONE:
        phone_lock(phone)
        return "code" if on_code > PER_CODE else "phone"
    if on_ip > PER_IP:
        return "ip"
    return None


def code_used_up(phone: str) -> bool:
    """Whether the current code of ``phone`` has had all its guesses."""
    issue = cache.get(ISSUE_KEY.format(phone=phone)) or f"none:{phone}"
    return (cache.get(CODE_GUESSES_KEY.format(issue=issue)) or 0) >= PER_CODE
