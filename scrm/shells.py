"""The shells — the operators' console, the clerks' counter, the members' portal — the API and the
sign-in pages, and what each app plugs into them.

Every app registers from its ``AppConfig.ready()``: its URL patterns per shell (each under a
namespace, optionally a prefix), its entries in the staff menu, its cards on the console's
settings page, and where a user lands after sign-in. ``scrm.urls`` builds the URL configuration from
this registry and the staff layout draws its menu from it, so no app names another app's URLs and
``scrm`` imports no app at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import include, path, reverse

SHELLS = ("console", "counter", "portal", "api", "auth", "public")


@dataclass(frozen=True)
class Pages:
    shell: str
    namespace: str
    prefix: str
    patterns: tuple


@dataclass(frozen=True)
class MenuEntry:
    """One entry of the staff menu; shown to users with every permission in ``permissions``."""

    key: str  # the page's ``active`` value, which highlights the entry
    label: Any
    url_name: str
    icon: str
    order: int
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingsCard:
    title: Any
    blurb: Any
    url_name: str
    icon: str
    order: int
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Landing:
    """Where a signed-in user goes from ``/``: the first landing whose ``test`` passes."""

    url_name: str
    test: Callable[[Any], bool]
    order: int


_pages: list[Pages] = []
_menu: dict[str, MenuEntry] = {}
_settings: dict[str, SettingsCard] = {}
_landings: dict[str, Landing] = {}
# Callables that higher apps add to pages of lower ones: tiles on the portal home (called with
# the request, each returning dicts {label, url, count}) and links on the Member 360 (called with
# the user and the member, each returning dicts {label, url}; empty for a user who may not go).
_portal_tiles: list[Callable[[Any], list[dict[str, Any]]]] = []
_member_links: list[Callable[[Any, Any], list[dict[str, Any]]]] = []


def pages_register(shell: str, patterns: Sequence, *, namespace: str, prefix: str = "") -> None:
    """Serve ``patterns`` in ``shell`` (under ``/<shell>/<prefix>``), reversed as
    ``namespace:name``. Several apps may share a namespace; each name must then be unique."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}; the shells are {', '.join(SHELLS)}")
    pages = Pages(shell, namespace, prefix, tuple(patterns))
    if pages not in _pages:  # ready() ran twice (a reload): registering again changes nothing
        _pages.append(pages)


def menu_register(*entries: MenuEntry) -> None:
    for entry in entries:
        _menu[entry.key] = entry


def settings_register(*cards: SettingsCard) -> None:
    for card in cards:
        _settings[card.url_name] = card


def landing_register(*landings: Landing) -> None:
    for landing in landings:
        _landings[landing.url_name] = landing


def portal_tiles_register(provider: Callable[[Any], list[dict[str, Any]]]) -> None:
    if provider not in _portal_tiles:
        _portal_tiles.append(provider)


def portal_tiles(request: Any) -> list[dict[str, Any]]:
    """The tiles of the portal home, {label, url, count}, from every registered provider."""
    return [tile for provider in _portal_tiles for tile in provider(request)]


def member_links_register(provider: Callable[[Any, Any], list[dict[str, Any]]]) -> None:
    if provider not in _member_links:
        _member_links.append(provider)


def member_links(user: Any, member: Any) -> list[dict[str, Any]]:
    """Links of the Member 360 to higher apps' pages about the member, {label, url}."""
    return [link for provider in _member_links for link in provider(user, member)]


def shell_urlpatterns(shell: str) -> list:
    """The URL patterns of one shell, one include per namespace, in registration order."""
    by_namespace: dict[str, list[Pages]] = {}
    for pages in _pages:
        if pages.shell == shell:
            by_namespace.setdefault(pages.namespace, []).append(pages)
    out = []
    for namespace, parts in by_namespace.items():
        if len(parts) == 1:
            out.append(path(parts[0].prefix, include((list(parts[0].patterns), namespace))))
        else:
            merged = [path(p.prefix, include(list(p.patterns))) for p in parts]
            out.append(path("", include((merged, namespace))))
    return out


def shell_patterns(shell: str) -> list:
    """The patterns of one shell without namespaces of their own (the API shares one)."""
    return [path(p.prefix, include(list(p.patterns))) for p in _pages if p.shell == shell]


def _allowed(user: Any, permissions: tuple[str, ...]) -> bool:
    return all(user.has_perm(p) for p in permissions)


def staff_menu(user: Any) -> list[dict[str, Any]]:
    """The staff menu for ``user``: the entries whose permissions the user holds, in order."""
    return [
        {"key": e.key, "label": e.label, "url": reverse(e.url_name), "icon": e.icon}
        for e in sorted(_menu.values(), key=lambda e: e.order)
        if _allowed(user, e.permissions)
    ]


def settings_cards(user: Any) -> list[dict[str, Any]]:
    return [
        {"title": c.title, "blurb": c.blurb, "url": reverse(c.url_name), "icon": c.icon}
        for c in sorted(_settings.values(), key=lambda c: c.order)
        if _allowed(user, c.permissions)
    ]


def landing_url(user: Any) -> str | None:
    for landing in sorted(_landings.values(), key=lambda landing: landing.order):
        if landing.test(user):
            return reverse(landing.url_name)
    return None
