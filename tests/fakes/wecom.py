"""A fake WeCom (企业微信) API on a real socket: ``gettoken`` and ``externalcontact/add_msg_template``
as CHANNELS.md §1.1, §1.3 and §1.4 describe them.

- Tokens live ``ttl`` seconds on an injectable clock (``FakeClock.advance``); ``revoke()`` makes
  WeCom forget them early. An expired token answers 42001, an unknown or revoked one 40014, a
  missing one 41001; a wrong secret 40001, a wrong corp id 40013.
- ``add_msg_template`` records the task and answers ``{"errcode": 0, "msgid", "fail_list"}``;
  contacts in ``not_contacts`` are in ``fail_list``, a ``sender`` not in ``senders`` (when that
  set is not empty) is 40003.
- ``fail_next(n, errcode)`` answers the next n ``add_msg_template`` calls with that errcode;
  ``fail_token_next(n, errcode)`` does the same to ``gettoken``; ``delay_next(seconds)`` answers
  the next call late.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

from werkzeug.wrappers import Request, Response

from tests.fakes._server import Served

ERRMSG = {
    -1: "system busy",
    6000: "data version conflict",
    40001: "invalid credential",
    40003: "invalid userid",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40096: "invalid external userid",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    48002: "api forbidden",
}


class FakeClock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _json(payload: dict) -> Response:
    # WeCom answers HTTP 200 for its own errors; only errcode says what happened.
    return Response(json.dumps(payload, ensure_ascii=False), content_type="application/json")


def _error(code: int) -> Response:
    return _json({"errcode": code, "errmsg": ERRMSG.get(code, "error")})


class WecomFake:
    def __init__(
        self,
        corp_id: str = "ww-test-corp",
        secret: str = "wecom-secret",  # noqa: S107
        ttl: int = 7200,
        clock: FakeClock | None = None,
    ) -> None:
        self.corp_id, self.secret, self.ttl = corp_id, secret, ttl
        self.clock = clock or FakeClock()
        self._lock = threading.Lock()
        self.tokens: dict[str, float] = {}  # token -> expires at (fake clock)
        self.gettoken_calls = 0
        self.api_calls = 0
        self.templates: list[dict] = []  # every task created
        self.not_contacts: set[str] = set()
        self.senders: set[str] = set()
        self._faults: deque[int] = deque()
        self._token_faults: deque[int] = deque()
        self._delays: deque[float] = deque()
        self._served = Served(self.handle)
        self.base_url = self._served.base_url

    def start(self) -> WecomFake:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    def revoke(self, token: str | None = None) -> None:
        """WeCom invalidates a token (or all of them) before it expires."""
        with self._lock:
            if token is None:
                self.tokens.clear()
            else:
                self.tokens.pop(token, None)

    def fail_next(self, n: int, errcode: int) -> None:
        with self._lock:
            self._faults.extend([errcode] * n)

    def fail_token_next(self, n: int, errcode: int) -> None:
        with self._lock:
            self._token_faults.extend([errcode] * n)

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delays.append(seconds)

    def handle(self, request: Request) -> Response:
        with self._lock:
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            time.sleep(delay)
        if request.path == "/cgi-bin/gettoken" and request.method == "GET":
            return self._gettoken(request)
        if request.path == "/cgi-bin/externalcontact/add_msg_template" and request.method == "POST":
            return self._add_msg_template(request)
        return Response("not found", status=404)

    def _gettoken(self, request: Request) -> Response:
        with self._lock:
            self.gettoken_calls += 1
            if self._token_faults:
                return _error(self._token_faults.popleft())
            if request.args.get("corpid") != self.corp_id:
                return _error(40013)
            if request.args.get("corpsecret") != self.secret:
                return _error(40001)
            token = f"tok-{self.gettoken_calls}-{int(self.clock() * 1000)}"
            self.tokens[token] = self.clock() + self.ttl
        return _json({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.ttl})

    def _add_msg_template(self, request: Request) -> Response:
        token = request.args.get("access_token", "")
        with self._lock:
            self.api_calls += 1
            if not token:
                return _error(41001)
            expires = self.tokens.get(token)
            if expires is None:
                return _error(40014)
            if self.clock() >= expires:
                return _error(42001)
            if self._faults:
                return _error(self._faults.popleft())
            body = request.get_json(silent=True) or {}
            if body.get("chat_type", "single") != "single" or not body.get("external_userid"):
                return _json({"errcode": 40058, "errmsg": "invalid parameter"})
            sender = body.get("sender")
            if sender and self.senders and sender not in self.senders:
                return _error(40003)
            failed = [e for e in body["external_userid"] if e in self.not_contacts]
            msgid = f"msg{len(self.templates) + 1:06d}"
            self.templates.append({**body, "msgid": msgid})
        return _json({"errcode": 0, "errmsg": "ok", "fail_list": failed, "msgid": msgid})
