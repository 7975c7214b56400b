"""What every channel implements, and what it is given to send."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class SendError(Exception):
    """A failed send. `retry_after` (seconds) when the far end said when to come back;
    `permanent` when retrying cannot help (no address for the recipient)."""

    def __init__(
        self, reason: str, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass
class Recipient:
    id: str
    name: str | None = None
    email: str | None = None
    mobile: str | None = None
    im_id: str | None = None


@dataclass
class Item:
    """One task or alert, as the outbox row and the item's own row describe it."""

    delivery_id: int
    kind: str  # task / alert
    id: int
    rule: str
    subject_type: str
    subject_id: str
    text: str  # the task's title or the alert's message
    level: str | None = None
    due: str | None = None


@dataclass
class Message:
    """One message: a single item, or a digest of one recipient's items from one run."""

    key: str  # the delivery id (ids, for a digest): the receiver's idempotency key
    items: list[Item]
    recipient: Recipient | None = None
    digest: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def delivery_ids(self) -> list[int]:
        return [item.delivery_id for item in self.items]

    def text(self) -> str:
        """The message as people read it (Chinese text passes through untouched)."""
        if not self.digest:
            return self.items[0].text
        name = self.recipient.name if self.recipient and self.recipient.name else ""
        lines = [f"{name} 本次共 {len(self.items)} 条提醒：".strip()]
        lines += [f"{i}. {item.text}" for i, item in enumerate(self.items, 1)]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "delivery_ids": self.delivery_ids,
            "recipient": asdict(self.recipient) if self.recipient else None,
            "digest": self.digest,
            "text": self.text(),
            "items": [asdict(item) for item in self.items],
        }


class Channel(Protocol):
    """Sends one message or raises SendError; never partly succeeds silently."""

    name: str

    def send(self, message: Message) -> None: ...


ENV_NAME = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "the name of an environment variable that holds the secret",
}


@dataclass(frozen=True)
class ChannelKind:
    """A kind of channel a playbook may configure (`type: wecom`): its own settings (JSON
    Schema properties, beside the ones every channel takes), those it cannot do without, the
    far end's rate limit, and how to make one from a playbook entry and the environment."""

    type: str
    make: Callable[[str, dict[str, Any], Mapping[str, str]], Channel]
    settings: dict[str, Any]
    needs: tuple[str, ...] = ()
    rate_per_minute: int | None = None


class Configured:
    """What every network channel keeps: its name, its playbook entry, the environment its
    secrets come from, and a timeout in seconds (default 10)."""

    def __init__(self, name: str, spec: dict[str, Any], env: Mapping[str, str]) -> None:
        self.name = name
        self.spec = spec
        self.env = env
        self.timeout = float(spec.get("timeout", 10))


def secret(env: Mapping[str, str], spec: dict[str, Any], key: str) -> str:
    """The value of the environment variable the playbook names under `key`."""
    variable = spec[key]
    value = env.get(variable)
    if not value:
        raise SendError(f"environment variable {variable} ({key}) is not set")
    return value


def post_json(
    url: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST JSON; return the decoded answer. Any non-2xx status, timeout or refusal is a
    SendError (429 with Retry-After says when to retry)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        retry_after = None
        if exc.code == 429:
            try:
                retry_after = float(exc.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
        raise SendError(f"HTTP {exc.code}", retry_after=retry_after) from None
    except TimeoutError:
        raise SendError(f"no answer within {timeout:g}s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise SendError(f"no answer within {timeout:g}s") from None
        raise SendError(f"cannot connect: {reason}") from None
    except OSError as exc:
        raise SendError(f"connection failed: {exc}") from None
    if not raw.strip():
        return {}
    try:
        answer = json.loads(raw)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
