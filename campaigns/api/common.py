"""What the campaigns app's API routes share: the whole-brand fence (campaigns and webhooks see
every store's members) and the Idempotency-Key replay of a POST."""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import actor_of
from accounts.models import ApiKey
from members.services.idempotency import idempotency_replay, idempotency_store, request_hash
from scrm.exceptions import ApplicationError

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER,
    required=False,
    description="Send it to retry safely: a replay answers 200 with the first answer.",
)


def brand_actor(request: Request):
    """Webhooks and campaigns see every store's members: a key limited to a store may not
    manage them."""
    actor = actor_of(request)
    if not actor.whole_brand or actor.kind not in ("key", "operator", "admin"):
        raise ApplicationError(
            _("This is for the whole brand: use an API key without a store."),
            code="permission_denied",
            status_code=403,
        )
    return actor


def request_user(request: Request):
    return request.user if request.user.is_authenticated else None


def idempotent_post(
    request: Request,
    *,
    actor,
    scope: str,
    run: Callable[[], dict],
    ok_status: int,
    atomic: bool = True,
) -> Response:
    """Run ``run()`` (it returns the answer's body) once per Idempotency-Key and caller: a
    replay answers 200 with the first answer. ``atomic``: the work and the key's record in one
    transaction; a service that commits in chunks of its own (a campaign's launch) runs first
    and the record is stored after it (a retry then finds the record, or the service's own
    refusal to do it twice)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 100:
        raise ApplicationError(
            _("An Idempotency-Key has at most 100 characters."),
            fields={"Idempotency-Key": [_("At most 100 characters.")]},
        )
    who = f"key:{actor.key.pk}" if isinstance(actor.key, ApiKey) else f"user:{actor.user.pk}"
    scope = f"{scope}:{who}"
    hash_ = request_hash(request.data if isinstance(request.data, dict) else {})
    if key:
        record = idempotency_replay(scope=scope, key=key, hash_=hash_)
        if record is not None:
            return Response(record.response, status=status.HTTP_200_OK)
    try:
        if atomic:
            with transaction.atomic():
                body = run()
                if key:
                    idempotency_store(
                        scope=scope, key=key, hash_=hash_, status_code=ok_status, response=body
                    )
        else:
            body = run()
            if key:
                with transaction.atomic():
                    idempotency_store(
                        scope=scope, key=key, hash_=hash_, status_code=ok_status, response=body
                    )
    except IntegrityError:  # a concurrent first attempt with the same key: the constraint decides
        record = idempotency_replay(scope=scope, key=key, hash_=hash_) if key else None
        if record is None:
            raise
        return Response(record.response, status=status.HTTP_200_OK)
    return Response(body, status=ok_status)
