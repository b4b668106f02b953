"""A local SMTP server (aiosmtpd) that records what it receives, as Django's own mail tests do.

- ``envelopes``: (MAIL FROM, RCPT TOs, the parsed message) of every mail accepted.
- ``refuse(address, code=550)``: RCPT TO that address is refused (550: for good; 4xx: for now).
- ``fail_next(n, code=451)``: the next n mails are refused after DATA with that code.
- ``password``: when set, the server asks for AUTH (without TLS, on localhost) and refuses any
  other password with 535.
- ``delay_next(seconds)``: the next mail is answered late (a client's timeout).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpFake:
    def __init__(self, username: str = "", password: str = "") -> None:
        self.username, self.password = username, password
        self._lock = threading.Lock()
        self.envelopes: list[Envelope] = []
        self.refused: dict[str, int] = {}
        self._faults: deque[int] = deque()
        self._delays: deque[float] = deque()
        self.port = _free_port()
        kwargs: dict = {}
        if password:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> SmtpFake:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse(self, address: str, code: int = 550) -> None:
        self.refused[address.lower()] = code

    def fail_next(self, n: int = 1, code: int = 451) -> None:
        with self._lock:
            self._faults.extend([code] * n)

    def delay_next(self, seconds: float) -> None:
        with self._lock:
            self._delays.append(seconds)

    # --- aiosmtpd handler hooks -------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.refused.get(address.lower())
        if code:
            if code >= 500:
                return f"{code} 5.1.1 <{address}>: Recipient address rejected: User unknown"
            return f"{code} 4.2.0 <{address}>: Recipient address rejected: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        if fault:
            return f"{fault} 4.3.0 Requested action aborted: try again later"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(
                Envelope(envelope.mail_from, list(envelope.rcpt_tos), message, raw)
            )
        return "250 Message accepted for delivery"
