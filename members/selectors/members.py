"""Who sees which members, and the one box that finds them."""

from __future__ import annotations

import re
import unicodedata

from django.db.models import Q, QuerySet

from accounts.models import Store, User
from accounts.phones import InvalidPhone, normalize_phone
from members.models import Member


def members_visible_to(user: User) -> QuerySet[Member]:
    """The members a signed-in user may browse (``scope.members_browsable``)."""
    from accounts.access import actor_for_user
    from members.selectors.scope import members_browsable

    return members_browsable(actor_for_user(user))


# A member code as people type or scan it (``member_code_generate``: "M" and 6 characters; older
# or imported codes up to 12).
MEMBER_CODE = re.compile(r"[Mm][0-9A-Za-z]{2,11}")


def member_search(*, qs: QuerySet[Member], q: str) -> tuple[QuerySet[Member], str]:
    """One box for every look-up. Returns the matches and the kind of look-up it was:
    ``phone`` (an exact number), ``last4``, ``code``, ``name`` or ``all``."""
    q = unicodedata.normalize("NFKC", q or "").strip()  # full-width digits from Chinese IMEs
    if not q:
        return qs, "all"
    digits = re.sub(r"[\s\-+]", "", q)
    if digits.isascii() and digits.isdigit() and len(digits) >= 11:
        try:
            return qs.filter(phone=normalize_phone(q)), "phone"
        except InvalidPhone:
            return qs.none(), "phone"
    if digits.isascii() and digits.isdigit() and len(digits) == 4:
        return qs.filter(phone_last4=digits), "last4"
    # "8000 王" or "王 8000": the last four digits narrowed by a name.
    m = re.fullmatch(r"(\d{4})\s+(\S.{0,50})|(\S.{0,50}?)\s+(\d{4})", q)
    if m:
        last4, name = (m[1], m[2]) if m[1] else (m[4], m[3])
        return qs.filter(phone_last4=last4, name__icontains=name.strip()), "last4"
    if MEMBER_CODE.fullmatch(q):
        # Codes are stored upper-case: an exact hit uses the unique index; else a prefix, and
        # only then names (a Latin name such as "Mia" looks like a code too).
        exact = qs.filter(code=q.upper())
        if exact.exists():
            return exact, "code"
        prefix = qs.filter(code__startswith=q.upper())
        if prefix.exists():
            return prefix, "code"
        return qs.filter(name__icontains=q), "name"
    return qs.filter(Q(name__icontains=q) | Q(code__iexact=q)), "name"


def member_for_store(*, store: Store, q: str) -> tuple[QuerySet[Member], str]:
    return member_search(qs=Member.objects.select_related("tier").filter(store=store), q=q)


_store_codes: dict[int, str] = {}


def store_code(store_id: int | None) -> str | None:
    """Store codes by id, cached per process: the card is built on every order."""
    if store_id is None:
        return None
    code = _store_codes.get(store_id)
    if code is None:
        code = Store.objects.filter(pk=store_id).values_list("code", flat=True).first() or ""
        _store_codes[store_id] = code
    return code or None
