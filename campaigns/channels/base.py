"""The one interface every channel adapter speaks (CHANNELS.md §6, narrowed to what the relay acts
on). ``send`` never raises for a provider's answer: it classifies it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Outcome:
    """What became of one send.

    - ``sent``: the provider took it (``provider_id`` names it there).
    - ``retry``: a transient failure (busy, rate-limited, timeout): try again after
      ``retry_after`` seconds, or the relay's backoff when None.
    - ``recipient``: this member cannot be reached on this channel, for good (bad number, hard
      bounce, not a contact): the message fails and the member's channel is marked unreachable.
    - ``config``: the channel itself is misconfigured (bad secret, refused signature, no
      permission): the channel pauses and the message waits for it.
    - ``person``: handed to a person to send (a WeCom task the staff member confirms, or a to-do
      with the text to copy).
    """

    result: str
    provider_id: str = ""
    detail: str = ""
    retry_after: int | None = None

    RESULTS = ("sent", "retry", "recipient", "config", "person")

    def __post_init__(self) -> None:
        if self.result not in self.RESULTS:
            raise ValueError(f"unknown outcome {self.result!r}")


class Adapter(Protocol):
    channel: str
    # A local channel (the portal inbox) is applied in the relay's own transaction; the others
    # are called outside any transaction, one message at a time.
    local: bool

    def address(self, member: Any) -> str:
        """Where this member is reached on this channel ("" when nowhere)."""
        ...

    def send(self, message: Any, member: Any) -> Outcome:
        """Hand one message to the provider. ``message.pk`` is its idempotency key: sending the
        same message twice (a relay killed after the call) must be harmless at the provider."""
        ...
