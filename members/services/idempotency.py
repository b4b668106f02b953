from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils.translation import gettext as _

from members.models import IdempotencyRecord
from scrm.exceptions import ApplicationError


def request_hash(data: Any) -> str:
    """A stable fingerprint of a request body: same data, same hash, whatever the key order."""
    canonical = json.dumps(
        data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def mismatch_error() -> ApplicationError:
    return ApplicationError(
        _("This idempotency key was already used with a different request."),
        code="idempotency_mismatch",
        status_code=409,
    )


def idempotency_replay(*, scope: str, key: str, hash_: str) -> IdempotencyRecord | None:
    """The stored first answer for (scope, key), or None. Call it while holding the lock that
    serialises the operation, so two concurrent first attempts cannot both miss it."""
    record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if record is not None and record.request_hash != hash_:
        raise mismatch_error()
    return record


def idempotency_store(*, scope: str, key: str, hash_: str, status_code: int, response: Any) -> None:
    IdempotencyRecord.objects.create(
        scope=scope, key=key, request_hash=hash_, status_code=status_code, response=response
    )
