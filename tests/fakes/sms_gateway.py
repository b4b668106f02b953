"""A fake of our HTTP SMS gateway (README, *SMS gateway protocol*) on a real socket.

``POST /send`` with ``Authorization: Bearer <token>`` and ``{"to", "text", "sender",
"idempotency_key"}``: 200 ``{"id"}``; the same idempotency key again is the same SMS (200 with the
first id, not sent twice). 401 ``{"error": "unauthorized"}`` for a wrong token, 400
``{"error": "invalid_number"}`` for a number that is not E.164 or was made invalid,
``{"error": "blacklisted"}`` for a blacklisted one.

Fault injection: ``fail_next(n, status=503, code="busy", retry_after=None)`` answers the next n
sends with that error (nothing is sent); ``delay_next(seconds)`` sends the next one and answers it
late (a client that times out has still sent it).

Standalone, for tests that kill processes: ``python -m tests.fakes.sms_gateway --port 8025``;
``GET /_count`` answers ``{"unique": n, "calls": m}``, ``GET /_messages`` the messages,
``POST /_fail_next`` ``{"n", "status", "code", "retry_after"}``, ``POST /_delay_next``
``{"seconds", "n"}`` and ``POST /_reset`` the same as the methods.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

from tests.fakes._server import Served

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass
class Fault:
    status: int
    code: str
    retry_after: int | None = None


def _json(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


class SmsGateway:
    def __init__(self, token: str = "gw-token", port: int = 0) -> None:  # noqa: S107
        self.token = token
        self._lock = threading.Lock()
        self.messages: dict[str, dict] = {}  # idempotency key -> the SMS sent
        self.calls = 0  # every POST /send, answered or not
        self.requests: list[dict] = []  # every POST /send body, with its Authorization
        self.invalid_numbers: set[str] = set()
        self.blacklisted: set[str] = set()
        self._faults: deque[Fault] = deque()
        self._delays: deque[float] = deque()
        self._served = Served(self.handle, port)
        self.port = self._served.port
        self.base_url = self._served.base_url
        self.url = f"{self.base_url}/send"

    # --- control ---------------------------------------------------------------------------

    def start(self) -> SmsGateway:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    def fail_next(
        self, n: int = 1, status: int = 503, code: str = "busy", retry_after: int | None = None
    ) -> None:
        with self._lock:
            self._faults.extend(Fault(status, code, retry_after) for _ in range(n))

    def delay_next(self, seconds: float, n: int = 1) -> None:
        with self._lock:
            self._delays.extend(seconds for _ in range(n))

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.requests.clear()
            self.calls = 0
            self._faults.clear()
            self._delays.clear()
            self.invalid_numbers.clear()
            self.blacklisted.clear()

    @property
    def unique(self) -> int:
        return len(self.messages)

    def sent_to(self, phone: str) -> list[dict]:
        return [m for m in self.messages.values() if m["to"] == phone]

    def receipts(self, status: str = "delivered", error: str = "") -> list[dict]:
        """Receipts for every SMS sent, in the shape the gateway posts them back."""
        return [
            {"id": m["id"], "status": status, **({"error": error} if error else {})}
            for m in self.messages.values()
        ]

    # --- HTTP ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/_count":
            return _json({"unique": self.unique, "calls": self.calls})
        if request.path == "/_messages":
            return _json(list(self.messages.values()))
        if request.path.startswith("/_") and request.method == "POST":
            return self._control(request.path, request.get_json(silent=True) or {})
        if request.method != "POST":
            return _json({"error": "method_not_allowed"}, 405)
        return self._send(request)

    def _control(self, path: str, body: dict) -> Response:
        if path == "/_fail_next":
            self.fail_next(
                int(body.get("n", 1)),
                int(body.get("status", 503)),
                str(body.get("code", "busy")),
                body.get("retry_after"),
            )
        elif path == "/_delay_next":
            self.delay_next(float(body.get("seconds", 1)), int(body.get("n", 1)))
        elif path == "/_reset":
            self.reset()
        else:
            return _json({"error": "not_found"}, 404)
        return _json({"ok": True})

    def _send(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        auth = request.headers.get("Authorization", "")
        with self._lock:
            self.calls += 1
            self.requests.append({"auth": auth, "json": body})
            if auth != f"Bearer {self.token}":
                return _json({"error": "unauthorized"}, 401)
            if not isinstance(body, dict) or not body.get("to") or not body.get("text"):
                return _json({"error": "bad_request"}, 400)
            if self._faults:
                fault = self._faults.popleft()
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return _json({"error": fault.code}, fault.status, headers)
            to = str(body["to"])
            if not E164.match(to) or to in self.invalid_numbers:
                return _json({"error": "invalid_number", "message": "not a mobile number"}, 400)
            if to in self.blacklisted:
                return _json({"error": "blacklisted", "message": "the number refuses SMS"}, 400)
            key = str(body.get("idempotency_key") or f"anonymous-{self.calls}")
            sms = self.messages.get(key)
            if sms is None:
                sms = {
                    "id": f"gw-{len(self.messages) + 1}",
                    "to": to,
                    "text": body["text"],
                    "sender": body.get("sender", ""),
                    "idempotency_key": key,
                }
                self.messages[key] = sms
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            time.sleep(delay)  # sent, but the answer comes late
        return _json({"id": sms["id"]})


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake SMS gateway (README's protocol).")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--token", default="gw-token")
    args = parser.parse_args()
    gateway = SmsGateway(token=args.token, port=args.port)
    print(f"fake SMS gateway on {gateway.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        gateway._served.server.serve_forever()


if __name__ == "__main__":
    main()
