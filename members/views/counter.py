"""The clerk's counter: find a member, see the card, and act from it in at most two taps.

Every page belongs to one store the clerk works in. A member belongs to the brand, not to the
store that enrolled them (``members.selectors.scope``): a member of another store is found by an
exact identifier (full phone, member code, the portal card's QR code) and served here — a purchase,
a voucher, a gift, all booked at this store; their home store and owner stay. Browsing (last four
digits, names, lists) and changing the profile stay fenced to the clerk's stores. Every look-up,
every cross-store one too, and every action is in the audit log."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import DateField, OuterRef, Q, Subquery, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.access import actor_for_user, staff_required
from accounts.models import Store
from accounts.phones import InvalidPhone, mask_name, normalize_phone
from accounts.selectors import stores_for_user
from accounts.services import audit_record
from members.forms import EnrolForm
from members.models import Child, ConsentRecord, GiftGrant, Member, Note, Order, Pet, Product
from members.selectors import (
    card_progress_percent,
    loyalty_context,
    member_card,
    member_for_store,
    next_gift,
    usable_vouchers,
)
from members.selectors.cards import standing_and_tier_hold
from members.selectors.members import MEMBER_CODE
from members.selectors.quotes import basket_quote
from members.selectors.scope import in_scope, member_to_serve
from members.services.members import member_enrol
from members.services.orders import gift_fulfil, order_from_quote, order_ingest
from members.services.profiles import consent_set, note_add
from members.services.vouchers import voucher_redeem
from members.views.profile_pages import member_detail_page
from scrm.exceptions import ApplicationError
from scrm.parsing import typed

# --- Finding a member ----------------------------------------------------------------------------


@staff_required("use_counter")
def counter_index(request: HttpRequest) -> HttpResponse:
    stores = list(stores_for_user(request.user))
    if len(stores) == 1:
        return redirect("counter:store", store_code=stores[0].code)
    return render(request, "counter/pick_store.html", {"stores": stores, "active": "counter"})


def _counter_store(request: HttpRequest, store_code: str) -> Store:
    """The store of the page, which the clerk must work in (the actor, kept on the request, says
    which stores: ``accounts.access``)."""
    store = get_object_or_404(Store, code=store_code)
    actor = actor_for_user(request.user)
    request.actor = actor  # type: ignore[attr-defined]
    if not store.is_active or actor.kind not in ("clerk", "operator", "admin"):
        raise PermissionDenied
    if not actor.covers_store(store.pk):
        raise PermissionDenied
    return store


@staff_required("use_counter")
def counter_store(request: HttpRequest, store_code: str) -> HttpResponse:
    store = _counter_store(request, store_code)
    context = {"store": store, "active": "counter", "results": None, "q": ""}
    q = typed(request.GET.get("q", ""))[:64]  # full-width digits from Chinese input methods
    if q:
        context.update(_counter_results(request, store, q))
        if _straight_to_card(context):
            return redirect(_card_url(store, context))
    return render(request, "counter/store.html", context)


def _card_url(store: Store, context: dict) -> str:
    """The card of the one hit; an exact number travels along, so the card may show it in full."""
    url = reverse("counter:member", args=[store.code, context["results"][0].code])
    return url + ("?" + urlencode({"phone": context["q"]}) if context["kind"] == "phone" else "")


def _straight_to_card(context: dict) -> bool:
    """An exact number or member code (typed or scanned) with one hit opens the card at once."""
    return (
        context.get("kind") in ("phone", "code")
        and len(context.get("results") or []) == 1
        and (context["kind"] == "phone" or context["results"][0].code == context["q"].upper())
    )


def _counter_results(request: HttpRequest, store: Store, q: str) -> dict:
    qs, kind = member_for_store(store=store, q=q)
    results = list(qs[:20])
    elsewhere = None
    if not results:
        # The chain rule: an exact number or member code finds the brand's member of any store.
        actor = request.actor
        if kind == "phone":
            elsewhere = member_to_serve(actor, phone=q)
        elif MEMBER_CODE.fullmatch(q):
            elsewhere = member_to_serve(actor, code=q)
        if elsewhere is not None:
            results, kind = [elsewhere], "phone" if kind == "phone" else "code"
    audit_record(
        actor=request.user,
        action="counter.lookup",
        request=request,
        target=store,
        after={"query_kind": kind, "results": len(results)},
    )
    if elsewhere is not None:
        _audit_cross_store(request, store, elsewhere, "counter.cross_store_lookup")
    return {"results": results, "q": q, "kind": kind, "reveal_phone": kind == "phone"}


def _served(request: HttpRequest, store: Store, member: Member) -> None:
    """A sale, a voucher or a gift done for a member of another store: audited once, when done
    (not on every re-pricing of the basket)."""
    if getattr(request, "cross_store", False):
        _audit_cross_store(request, store, member, "counter.cross_store_served")


def _audit_cross_store(request: HttpRequest, store: Store, member: Member, action: str) -> None:
    audit_record(
        actor=request.user,
        action=action,
        request=request,
        target=member,
        after={"store": store.code, "home_store": member.store.code if member.store else None},
    )


@staff_required("use_counter")
def counter_search(request: HttpRequest, store_code: str) -> HttpResponse:
    store = _counter_store(request, store_code)
    q = typed(request.GET.get("q", ""))[:64]  # full-width digits from Chinese input methods
    context = {"store": store, "results": None, "q": q}
    if q:
        context.update(_counter_results(request, store, q))
        if request.htmx and _straight_to_card(context):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _card_url(store, context)
            return response
    if request.htmx:
        return render(request, "counter/store.html#results", context)
    return redirect(reverse("counter:store", args=[store.code]) + "?" + urlencode({"q": q}))


# --- The card -------------------------------------------------------------------------------------


def _member_at(request: HttpRequest, store: Store, code: str) -> Member | None:
    """The brand's member with this exact code (the URL carries it, as a scan or a look-up by
    an exact identifier gives it), whichever store enrolled them, with their latest note."""
    notes = Note.objects.filter(member=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Member.objects.select_related("tier", "owner", "profile", "store")
        .annotate(
            latest_note_body=Subquery(notes.values("body")[:1]),
            latest_note_at=Subquery(notes.values("created_at")[:1]),
            latest_note_author=Subquery(notes.values("author__name")[:1]),
        )
        .filter(code=code.upper(), erased_at__isnull=True)
        .first()
    )


def _children_and_pets(member: Member) -> tuple[list[Child], list[Pet]]:
    """The member's children and pets in one query (the card stays within its query budget)."""
    children = Child.objects.filter(member=member).values_list(
        Value("child"), "pk", "name", "birth_date", "due_date", Value("")
    )
    pets = Pet.objects.filter(member=member).values_list(
        Value("pet"), "pk", "name", "birthday", Value(None, output_field=DateField()), "species"
    )
    kids: list[Child] = []
    animals: list[Pet] = []
    for kind, pk, name, born, due, species in children.union(pets, all=True).order_by("pk"):
        if kind == "child":
            kids.append(Child(pk=pk, member=member, name=name, birth_date=born, due_date=due))
        else:
            animals.append(Pet(pk=pk, member=member, name=name, birthday=born, species=species))
    return kids, animals


def at_counter(
    view: Callable[..., HttpResponse] | None = None, *, own_store_only: bool = False
) -> Callable[..., HttpResponse]:
    """A counter page about one member, served at a store the clerk may use. A member of another
    store of the brand is served too (``request.cross_store`` is then true and the use is
    audited); with ``own_store_only`` (the profile, notes: changes, not service) they are not."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @staff_required("use_counter")
        @wraps(view)
        def wrapped(request: HttpRequest, store_code: str, code: str, **kwargs) -> HttpResponse:
            store = _counter_store(request, store_code)
            member = _member_at(request, store, code)
            if member is None:
                return _not_found(request, store)
            request.cross_store = not in_scope(request.actor, member)  # type: ignore[attr-defined]
            if request.cross_store and own_store_only:  # type: ignore[attr-defined]
                messages.error(
                    request,
                    _("%(code)s is a member of another store: change the profile there.")
                    % {"code": member.code},
                )
                return _card_redirect(store, member)
            return view(request, store, member, **kwargs)

        return wrapped

    return decorate(view) if view is not None else decorate


def _not_found(request: HttpRequest, store: Store) -> HttpResponse:
    messages.error(request, _("No member with this code."))
    return redirect("counter:store", store_code=store.code)


def card_context(member: Member) -> dict:
    """Everything the card shows, in a handful of queries."""
    ctx = loyalty_context()
    gifts = list(
        GiftGrant.objects.filter(member=member, status=GiftGrant.Status.PENDING).order_by(
            "granted_at"
        )
    )
    vouchers = list(usable_vouchers(member))
    # The standing and what keeps the tier in one query (the window's orders) for a tier by spend.
    current, hold = standing_and_tier_hold(member, tiers=ctx.tiers, settings=ctx.settings)
    card = member_card(
        member,
        tiers=ctx.tiers,
        current_standing=current,
        gifts=gifts,
        vouchers=vouchers,
    )
    today = timezone.localdate()
    children, pets = _children_and_pets(member)
    latest_note = None
    if member.latest_note_body:  # annotated by _member_at: no query of its own
        latest_note = Note(
            member=member,
            body=member.latest_note_body,
            created_at=member.latest_note_at,
        )
        latest_note.author_name = member.latest_note_author
    try:
        profile = member.profile
    except Member.profile.RelatedObjectDoesNotExist:
        profile = None
    return {
        "member": member,
        "card": card,
        "progress": card_progress_percent(card, ctx.tiers),
        "gift_ahead": next_gift(member, ctx.milestones),
        "tier_hold": hold,
        "birthday_month": bool(member.birthday and member.birthday.month == today.month),
        "children": children,
        "pets": pets,
        "latest_note": latest_note,
        "profile": profile,
        "vouchers": vouchers,
        "gifts": gifts,
    }


@at_counter
def counter_card(request: HttpRequest, store: Store, member: Member) -> HttpResponse:
    audit_record(
        actor=request.user,
        action="counter.card_opened",
        request=request,
        target=member,
        after={"store": store.code},
    )
    # Phones are masked, except for the one the clerk searched by (the exact number).
    reveal = False
    if request.GET.get("phone"):
        try:
            reveal = normalize_phone(request.GET["phone"]) == member.phone
        except InvalidPhone:
            reveal = False
    context = card_context(member) | {
        "store": store,
        "reveal_phone": reveal,
        "active": "counter",
        "cross_store": request.cross_store,  # type: ignore[attr-defined]
        "member_name": member.name,
    }
    if request.cross_store:  # type: ignore[attr-defined]
        # Another store's member: the name masked as outside one's stores everywhere
        # (members.selectors.scope), and that store's staff notes stay theirs.
        context["member_name"] = mask_name(member.name)
        context["latest_note"] = None
        _audit_cross_store(request, store, member, "counter.cross_store_card")
    return render(request, "counter/card.html", context)


# --- Enrol ------------------------------------------------------------------------------------


@staff_required("use_counter")
def counter_enrol(request: HttpRequest, store_code: str) -> HttpResponse:
    store = _counter_store(request, store_code)
    initial = {"phone": request.GET.get("phone", "")[:20], "consent_portal": True}
    form = EnrolForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            member, created = member_enrol(
                phone=d["phone"],
                name=d["name"],
                birthday=d["birthday"],
                store=store,
                channel=Member.Channel.STORE,
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            for name, msgs in (exc.fields or {None: [exc.message]}).items():
                for msg in msgs:
                    form.add_error(name if name in form.fields else None, msg)
        else:
            if not created:  # a member of the brand already, of this store or another one
                messages.info(request, _("This number is already a member."))
                return redirect("counter:member", store_code=store.code, code=member.code)
            else:
                consent_set(
                    member=member,
                    consent={c: d[f"consent_{c}"] for c in Member.CONSENT_CHANNELS},
                    source=ConsentRecord.Source.STORE,
                    actor=request.user,
                    request=request,
                )
                messages.success(
                    request, _("Welcome! %(code)s is enrolled.") % {"code": member.code}
                )
                return redirect("counter:member", store_code=store.code, code=member.code)
    return render(
        request, "counter/enrol.html", {"store": store, "form": form, "active": "counter"}
    )


# --- Purchase -----------------------------------------------------------------------------------


def _basket(post) -> list[tuple[str, str, str]]:
    skus, qtys, prices = post.getlist("sku"), post.getlist("qty"), post.getlist("price")
    items = []
    for i, sku in enumerate(skus):
        if sku.strip():
            qty = qtys[i] if i < len(qtys) else "1"
            price = prices[i] if i < len(prices) else ""
            items.append((sku.strip(), qty, price))
    return items


RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O or U


def receipt_number(store: Store) -> str:
    """A receipt number a clerk can read out: ``SH01-261202-7KQ2M9XA``, the store, the local date
    and 8 random characters (40 bits: two of a store's day's sales share one about once in a
    million days of 1,000 sales). It is the order's external id, drawn when the form is shown,
    so a double tap books one order."""
    random_part = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{store.code}-{timezone.localdate():%y%m%d}-{random_part}"


@at_counter
def counter_purchase(request: HttpRequest, store: Store, member: Member) -> HttpResponse:
    """Build the basket (htmx re-prices it on every change), then confirm once: the form's
    token is the order's external id, so a double tap books one order."""
    post = request.POST if request.method == "POST" else None
    items = _basket(post) if post else []
    action = post.get("action", "") if post else ""
    if action.startswith("add:"):
        sku = action[4:]
        for i, (s, q, p) in enumerate(items):
            if s == sku:
                items[i] = (s, str(int(q) + 1) if q.isdigit() else "1", p)
                break
        else:
            items.append((sku, "1", ""))
    elif action.startswith("remove:"):
        with contextlib.suppress(ValueError, IndexError):
            del items[int(action[7:])]
    chosen = post.getlist("voucher") if post else []
    quote = basket_quote(member=member, items=items, voucher_codes=chosen)
    token = ((post.get("token") or "") if post else "").strip()[:40] or receipt_number(store)
    if action == "confirm":
        if not quote.lines:
            quote.errors.setdefault("lines", []).append(_("Add at least one product."))
        if not quote.errors:
            data, fingerprint = order_from_quote(
                quote=quote, member=member, store=store, token=token, placed_at=timezone.now()
            )
            try:
                result, _created = order_ingest(data=data, hash_=fingerprint, actor=request.user)
            except ApplicationError as exc:
                quote.errors.setdefault("", []).append(exc.message)
            else:
                _served(request, store, member)
                url = reverse("counter:receipt", args=[store.code, member.code, result["id"]])
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = url
                    return response
                return redirect(url)
    vouchers = list(usable_vouchers(member))
    context = {
        "store": store,
        "member": member,
        "quote": quote,
        "items": items,
        "vouchers": vouchers,
        "chosen": [c.strip().upper() for c in chosen],
        "token": token,
        "active": "counter",
    }
    if request.htmx:
        return render(request, "counter/purchase.html#basket", context)
    return render(request, "counter/purchase.html", context, status=400 if quote.errors else 200)


@staff_required("use_counter")
def counter_products(request: HttpRequest, store_code: str) -> HttpResponse:
    """Products by SKU or name, for the basket."""
    store = _counter_store(request, store_code)
    q = request.GET.get("q", "").strip()[:64]
    member_code = request.GET.get("member", "").strip().upper()[:12]
    products = []
    if q and member_code:
        products = list(
            Product.objects.filter(
                Q(sku__iexact=q) | Q(sku__istartswith=q) | Q(name__icontains=q)
            ).order_by("name")[:12]
        )
    return render(
        request,
        "counter/purchase.html#products",
        {
            "store": store,
            "products": products,
            "q": q,
            "member_code": member_code,
        },
    )


@at_counter
def counter_receipt(request: HttpRequest, store: Store, member: Member, pk: int) -> HttpResponse:
    orders = Order.objects.filter(pk=pk, member=member)
    if request.cross_store:  # type: ignore[attr-defined]
        orders = orders.filter(store=store)  # a receipt of this store's sale, not the others'
    order = orders.prefetch_related("lines__product").first()
    if order is None:
        return _not_found(request, store)
    caused = (order.result or {}).get("events", [])
    tiers = {t.code: t for t in loyalty_context().tiers}
    upgrade = next((e for e in caused if e["type"] == "tier_changed"), None)
    return render(
        request,
        "counter/receipt.html",
        {
            "store": store,
            "member": member,
            "order": order,
            "events": caused,
            "upgrade_to": tiers.get(upgrade["to"]) if upgrade else None,
            "gifts": [e for e in caused if e["type"] == "gift_granted"],
            "gift_ahead": next_gift(member),
            "active": "counter",
        },
    )


# --- Actions from the card ----------------------------------------------------------------------


def _card_redirect(store: Store, member: Member) -> HttpResponse:
    return redirect(reverse("counter:member", args=[store.code, member.code]))


@at_counter(own_store_only=True)
def counter_member_profile(request: HttpRequest, store: Store, member: Member) -> HttpResponse:
    """The 360 page for a clerk, from the card: taste, skin and notes are theirs to edit."""
    return member_detail_page(request, member)


@at_counter
def counter_gift_fulfil(
    request: HttpRequest, store: Store, member: Member, pk: int
) -> HttpResponse:
    gift = GiftGrant.objects.filter(pk=pk, member=member).first()
    if request.method == "POST" and gift is not None:
        try:
            gift_fulfil(gift=gift, actor=request.user, store=store, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            _served(request, store, member)
            messages.success(request, _("Gift handed over: %(gift)s.") % {"gift": gift.name})
    return _card_redirect(store, member)


@at_counter
def counter_voucher_redeem(request: HttpRequest, store: Store, member: Member) -> HttpResponse:
    if request.method == "POST":
        voucher_code = request.POST.get("voucher", "").strip()[:40]
        try:
            voucher = voucher_redeem(
                code=voucher_code,
                store=store,
                member=member,
                actor=request.user,
                request=request,
                audit=True,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            _served(request, store, member)
            messages.success(request, _("Voucher %(code)s redeemed.") % {"code": voucher.code})
    return _card_redirect(store, member)


@at_counter(own_store_only=True)
def counter_note(request: HttpRequest, store: Store, member: Member) -> HttpResponse:
    if request.method == "POST":
        try:
            note_add(
                member=member,
                body=request.POST.get("body", ""),
                actor=request.user,
                request=request,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Note added."))
    return _card_redirect(store, member)
