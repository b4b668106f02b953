"""Message texts with ``{variables}``: which variables exist, how a text is filled in for one
member, how many billing parts an SMS takes, and what is wrong with a template before it is saved.
Pure functions over plain values: the outbox, the template editor's preview and its checks use
them alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

# name -> what it holds (shown in the editor). The context for a member provides each of them.
VARIABLES: dict[str, Any] = {
    "name": _("The member's name (or 会员 / member when none)"),
    "member_code": _("The member code"),
    "tier": _("The member's tier"),
    "points": _("The points balance"),
    "store": _("The member's home store"),
    "portal_link": _("A link to the member portal"),
    "voucher": _("The voucher of the message (its name and code)"),
    "gift": _("The gift waiting at the counter"),
    "expiring_points": _("Points about to expire"),
    "expiry_date": _("When those points or that voucher expire"),
}

_FIELD = re.compile(r"\{([^{}]*)\}")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Billing parts (CHANNELS.md §2): 70 characters in one part when any character is outside the
# GSM 7-bit set (Chinese always is), 67 per part when split; 160 and 153 for Latin text.
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€")


def variables_of(text: str) -> list[str]:
    """The names between braces, in order of appearance (repeats kept once)."""
    seen: list[str] = []
    for name in _FIELD.findall(text):
        if name not in seen:
            seen.append(name)
    return seen


def render(text: str, context: Mapping[str, Any]) -> str:
    """Fill ``{name}`` fields from ``context``; an unknown field is left as typed (the editor's
    check refuses it before a template is saved, so only a stale template can carry one)."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in context and context[name] is not None:
            return str(context[name])
        return match.group(0)

    return _FIELD.sub(fill, text)


def sms_parts(text: str) -> tuple[int, int]:
    """(characters as billed, billing parts) of an SMS text."""
    if all(ch in _GSM or ch in _GSM_EXT for ch in text):
        length = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        single, multi = 160, 153
    else:
        length = len(text)
        single, multi = 70, 67
    if length == 0:
        return 0, 0
    if length <= single:
        return length, 1
    return length, -(-length // multi)


MAX_SMS_PARTS = 5


def template_problems(
    *, channel: str, kind: str, body: str, subject: str = "", opt_out_text: str = "拒收请回复R"
) -> dict[str, list[str]]:
    """What must be fixed before a template is saved, by field. Empty when it may be saved."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: Any) -> None:
        problems.setdefault(field, []).append(str(message))

    for field, text in (("body", body), ("subject", subject)):
        if text.count("{") != text.count("}"):
            add(field, _("A brace is not closed: write variables as {name}."))
        for name in variables_of(text):
            if not _WORD.fullmatch(name) or name not in VARIABLES:
                add(
                    field,
                    _("Unknown variable {%(name)s}: use one of %(known)s.")
                    % {"name": name, "known": ", ".join("{" + v + "}" for v in VARIABLES)},
                )
    if not body.strip():
        add("body", _("Write the text of the message."))
    if channel == "email" and not subject.strip():
        add("subject", _("An email needs a subject."))
    if channel == "sms":
        _length, parts = sms_parts(body)
        if parts > MAX_SMS_PARTS:
            add(
                "body",
                _("This SMS takes %(parts)s billing parts; keep it within %(max)s.")
                % {"parts": parts, "max": MAX_SMS_PARTS},
            )
        if kind in ("value", "promotion") and not body.rstrip().endswith(opt_out_text):
            add(
                "body",
                _("A marketing SMS must end with the opt-out text “%(text)s”.")
                % {"text": opt_out_text},
            )
    return problems
