"""WeCom (企业微信) 1:1 messages, sent by the staff member who looks after the member.

With a WeCom app configured (``SCRM_WECOM_CORP_ID`` and ``SCRM_WECOM_SECRET``) and the member's
WeCom ids known, the adapter creates a mass-message task with ``externalcontact/add_msg_template``
(CHANNELS.md §1.4): WeCom sends nothing by itself, the staff member confirms it in the WeCom
client, so the outcome is ``person`` with WeCom's ``msgid``. Otherwise the message becomes a to-do
(``StaffTask``) of the member's owner with the text to copy.

The member's WeCom ids are read from two operator-defined attributes (Settings → profile fields),
since the member has no WeCom fields yet: ``wecom_external_userid`` (the member's external
contact id) and ``wecom_userid`` (the userid of the staff member the contact belongs to, sent as
``sender``; WeCom picks the last one who chatted when it is absent).

The access token (``gettoken``) is cached in Django's cache per corp id and secret, for its
lifetime less a margin; one worker refreshes it at a time (a ``cache.add`` lock) while the others
wait for the new one, and a token WeCom refuses (40014, 42001) is refreshed once and the call made
once more. Errors are classified on ``errcode`` only (CHANNELS.md §1.3 and §6).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib import error, request
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache

from campaigns.channels.base import Outcome
from campaigns.models import StaffTask
from members.models import AttributeValue

EXTERNAL_ID_KEY = "wecom_external_userid"
SENDER_KEY = "wecom_userid"

GETTOKEN = "/cgi-bin/gettoken"
ADD_MSG_TEMPLATE = "/cgi-bin/externalcontact/add_msg_template"

TOKEN_MARGIN_SECONDS = 300
LOCK_POLL_SECONDS = 0.05
LOCK_POLLS = 100  # how long a worker waits for another one's refresh: 5 s
SENT_MEMORY_SECONDS = 7 * 24 * 3600

TOKEN_ERRORS = frozenset({40014, 42001})
RETRY_ERRORS = frozenset({-1, 6000, 45009, 45033, 41096})
CONFIG_ERRORS = frozenset({40001, 40013, 41001, 48002})
RECIPIENT_ERRORS = frozenset({40003, 40096})
# A per-minute limit blocks for 60 s (CHANNELS.md §1.2): do not come back sooner.
RETRY_AFTER = {45009: 60}


class WecomError(Exception):
    def __init__(self, kind: str, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after = retry_after


def wecom_configured() -> bool:
    return bool(settings.SCRM_WECOM_CORP_ID and settings.SCRM_WECOM_SECRET)


def wecom_ids(member: Any) -> tuple[str, str]:
    """(the member's external userid, the sender's userid), "" where unknown; read once per
    member object (the relay asks for the address and then sends with the same object)."""
    cached = getattr(member, "_wecom_ids", None)
    if cached is None:
        values = dict(
            AttributeValue.objects.filter(
                member_id=member.pk, attribute__key__in=(EXTERNAL_ID_KEY, SENDER_KEY)
            ).values_list("attribute__key", "text")
        )
        cached = (values.get(EXTERNAL_ID_KEY, "").strip(), values.get(SENDER_KEY, "").strip())
        member._wecom_ids = cached
    return cached


def _kind_of(errcode: int) -> str:
    if errcode in CONFIG_ERRORS:
        return "config"
    if errcode in RECIPIENT_ERRORS:
        return "recipient"
    if errcode in RETRY_ERRORS | TOKEN_ERRORS:  # busy, or a token still refused after a refresh
        return "retry"
    return "retry"  # an errcode we do not know: the outbox's attempts bound it


def _call(path: str, *, params: dict[str, str], body: dict | None = None) -> dict:
    base = settings.SCRM_WECOM_API_BASE.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise WecomError("config", "SCRM_WECOM_API_BASE must be an http(s) URL")
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = request.Request(  # noqa: S310  (scheme checked above)
        f"{base}{path}?{urlencode(params)}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json; charset=utf-8"} if data is not None else {},
    )
    try:
        with request.urlopen(req, timeout=settings.SCRM_WECOM_TIMEOUT) as resp:  # noqa: S310
            answer = json.loads(resp.read() or b"{}")
    except error.HTTPError as exc:
        raise WecomError("retry", f"WeCom answered HTTP {exc.code}") from exc
    except OSError as exc:  # refused, reset, timed out
        raise WecomError("retry", f"WeCom unreachable: {exc}") from exc
    except ValueError as exc:
        raise WecomError("retry", f"WeCom answered what is not JSON: {exc}") from exc
    if not isinstance(answer, dict):
        raise WecomError("retry", "WeCom answered what is not a JSON object")
    return answer


def _errcode(answer: dict) -> int:
    try:
        return int(answer.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        return -1


def _token_key() -> str:
    corp, secret = settings.SCRM_WECOM_CORP_ID, settings.SCRM_WECOM_SECRET
    digest = hashlib.sha256(f"{corp}\0{secret}".encode()).hexdigest()[:16]
    return f"scrm:wecom:token:{corp}:{digest}"


def _token_fetch(key: str) -> str:
    answer = _call(
        GETTOKEN,
        params={"corpid": settings.SCRM_WECOM_CORP_ID, "corpsecret": settings.SCRM_WECOM_SECRET},
    )
    code = _errcode(answer)
    token = str(answer.get("access_token") or "")
    if code != 0 or not token:
        raise WecomError(
            _kind_of(code) if code else "retry",
            f"gettoken: errcode {code} {answer.get('errmsg', '')}".strip(),
            retry_after=RETRY_AFTER.get(code),
        )
    try:
        lifetime = int(answer.get("expires_in") or 7200)
    except (TypeError, ValueError):
        lifetime = 7200
    cache.set(key, token, timeout=max(lifetime - TOKEN_MARGIN_SECONDS, 60))
    return token


def access_token(*, stale: str = "") -> str:
    """A valid access token: the cached one unless it is ``stale`` (just refused by WeCom), else
    a fresh one fetched by one worker at a time."""
    key = _token_key()
    token = cache.get(key)
    if token and token != stale:
        return token
    lock = f"{key}:refresh"
    for _poll in range(LOCK_POLLS):
        if cache.add(lock, "1", timeout=int(settings.SCRM_WECOM_TIMEOUT * 2) + 1):
            try:
                token = cache.get(key)  # refreshed while we waited for the lock
                if token and token != stale:
                    return token
                return _token_fetch(key)
            finally:
                cache.delete(lock)
        time.sleep(LOCK_POLL_SECONDS)
        token = cache.get(key)
        if token and token != stale:
            return token
    raise WecomError("retry", "another worker is still refreshing the WeCom access token")


def _failed_ids(answer: dict) -> set[str]:
    out = set()
    for entry in answer.get("fail_list") or []:
        if isinstance(entry, dict):
            entry = entry.get("external_userid", "")
        out.add(str(entry))
    return out


class WecomAdapter:
    channel = "wecom"
    local = False

    def address(self, member: Any) -> str:
        external_id, _sender = wecom_ids(member)
        if external_id:
            return external_id
        if member.owner_id:
            return f"owner:{member.owner_id}"
        return ""

    def send(self, message: Any, member: Any) -> Outcome:
        external_id, sender = wecom_ids(member)
        if wecom_configured() and external_id:
            return self._template_create(message, external_id, sender)
        return self._task_open(message, member)

    def _task_open(self, message: Any, member: Any) -> Outcome:
        """No WeCom app (or no WeCom id): a to-do of the owner with the text to copy, once per
        message however often it is sent."""
        if not member.owner_id:
            return Outcome("recipient", detail="no WeCom id and no owner")
        task, _created = StaffTask.objects.get_or_create(
            message_id=message.pk,
            defaults={"owner_id": member.owner_id, "member_id": member.pk, "text": message.text},
        )
        return Outcome("person", provider_id=f"task-{task.pk}", detail="to-do of the owner")

    def _template_create(self, message: Any, external_id: str, sender: str) -> Outcome:
        # WeCom has no idempotency key: remember the task created for this message, so a relay
        # that sends it again (after a crash past the call) creates no second one.
        done_key = f"scrm:wecom:sent:{message.pk}"
        done = cache.get(done_key)
        if done:
            return Outcome("person", provider_id=done, detail="task created before")
        body: dict[str, Any] = {
            "chat_type": "single",
            "external_userid": [external_id],
            "text": {"content": message.text},
        }
        if sender:
            body["sender"] = sender
        try:
            token = access_token()
            answer = _call(ADD_MSG_TEMPLATE, params={"access_token": token}, body=body)
            if _errcode(answer) in TOKEN_ERRORS:
                token = access_token(stale=token)
                answer = _call(ADD_MSG_TEMPLATE, params={"access_token": token}, body=body)
        except WecomError as exc:
            return Outcome(exc.kind, detail=str(exc), retry_after=exc.retry_after)
        code = _errcode(answer)
        detail = f"errcode {code} {answer.get('errmsg', '')}".strip()
        if code != 0:
            return Outcome(_kind_of(code), detail=detail, retry_after=RETRY_AFTER.get(code))
        if external_id in _failed_ids(answer):
            return Outcome("recipient", detail="WeCom cannot send to this contact (fail_list)")
        msgid = str(answer.get("msgid") or "")
        if not msgid:
            return Outcome("retry", detail="add_msg_template answered without a msgid")
        cache.set(done_key, msgid, timeout=SENT_MEMORY_SECONDS)
        return Outcome("person", provider_id=msgid, detail="to confirm in WeCom")
