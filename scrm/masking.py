"""How people's details are shown masked (AntD's data-format rules): phones keep the first 3 and
last 4 digits, names their first (and last) character."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of the national number: ``138****8000``."""
    national = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(national) < 8:
        return "*" * len(national)
    return f"{national[:3]}****{national[-4:]}"


def mask_name(name: str) -> str:
    """``王*`` for two characters, ``欧*明`` for three or more; Latin names keep the first letter."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
