"""What every channel implements, and what it is given to send."""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from salesplay.engine.lang import schema


class SendError(Exception):
    """A failed send. `retry_after` (seconds) when the far end said when to come back;
    `permanent` when retrying cannot help (no address for the recipient, a message the far end
    refuses as it is): the delivery is dead at once."""

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


ENV_NAME = schema.ENV_NAME  # a setting that names the variable holding a secret


@dataclass(frozen=True)
class Concern:
    """What a kind's own check says of one channel's settings, about the setting `key` (None:
    the channel as a whole). An error refuses the playbook at that line; a warning is printed
    where the playbook is validated and where the scheduler starts."""

    key: str | None
    message: str
    warning: bool = False


def no_concerns(spec: dict[str, Any]) -> list[Concern]:
    return []


@dataclass(frozen=True)
class ChannelKind:
    """A kind of channel a playbook may configure (`type: wecom`): its own settings (JSON
    Schema properties, beside the ones every channel takes), those it cannot do without, the
    far end's rate limit, how to make one from a playbook entry and the environment, and
    (`check`) what its settings must say together that the schema cannot."""

    type: str
    make: Callable[[str, dict[str, Any], Mapping[str, str]], Channel]
    settings: dict[str, Any]
    needs: tuple[str, ...] = ()
    rate_per_minute: int | None = None
    check: Callable[[dict[str, Any]], list[Concern]] = no_concerns


class Configured:
    """What every network channel keeps: its name, its playbook entry, the environment its
    secrets come from, and a timeout in seconds (default 10)."""

    def __init__(self, name: str, spec: dict[str, Any], env: Mapping[str, str]) -> None:
        self.name = name
        self.spec = spec
        self.env = env
        self.timeout = float(spec.get("timeout", 10))

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST body as JSON to the URL in the variable `url_env` names; the decoded answer."""
        url = secret(self.env, self.spec, "url_env")
        return post_json(url, body, self.timeout, headers, source=self.spec["url_env"])


def secrets(spec: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The values of every variable a channel's settings name (`url_env`, `password_env` …):
    what must never be written anywhere."""
    found = (env.get(str(spec[key])) for key in spec if key.endswith("_env"))
    return [value for value in found if value]


def redact(text: str, hidden: Iterable[str]) -> str:
    """text with each secret replaced by ***, and, for a secret URL, every part of it that can
    carry a token (path, query, their long pieces, a password): an error from a URL library may
    quote any of them."""
    pieces: set[str] = set()
    for value in hidden:
        pieces.add(value)
        try:
            parts = urllib.parse.urlsplit(value.strip())
        except ValueError:
            continue
        if parts.scheme and parts.netloc:
            after = value.split(parts.netloc, 1)[-1]
            pieces.update({after, after.strip(), parts.path + "?" + parts.query, parts.query})
            pieces.update(v for _, v in urllib.parse.parse_qsl(parts.query))
            pieces.update(p for p in re.split(r"[/?&=#\s]", after) if len(p) >= 12)
            if parts.password:
                pieces.add(parts.password)
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "***")
    return text


def one_line(text: str) -> str:
    """text on one line: line breaks (CR, LF and the other Unicode ones) become spaces. Header
    text never carries a line break: it would start a header of the sender's choosing."""
    return " ".join(text.splitlines()).strip() if text else text


def secret(env: Mapping[str, str], spec: dict[str, Any], key: str) -> str:
    """The value of the environment variable the playbook names under `key`."""
    variable = spec[key]
    value = env.get(variable)
    if not value:
        raise SendError(f"environment variable {variable} ({key}) is not set")
    return value


# 4xx answers that a later try may get past: a request timeout and a rate limit. Any other 4xx
# refuses this message as it is (a bad payload, a wrong token): the delivery is dead at once.
RETRYABLE_4XX = (408, 429)


def post_json(
    url: str,
    body: dict[str, Any],
    timeout: float,
    headers: dict[str, str] | None = None,
    source: str = "the URL",
) -> dict[str, Any]:
    """POST JSON; return the decoded answer. Any non-2xx status, timeout or refusal is a
    SendError (429 with Retry-After says when to retry; other 4xx are permanent). Errors never
    quote the URL, which may hold a token: they name `source`, the variable it came from."""
    malformed = SendError(f"{source} does not hold a valid http(s) URL", permanent=True)
    try:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise malformed
        request = urllib.request.Request(
            url,
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        retry_after = None
        if exc.code == 429:
            try:
                retry_after = float(exc.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
        permanent = 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX
        raise SendError(f"HTTP {exc.code}", retry_after=retry_after, permanent=permanent) from None
    except (ValueError, http.client.InvalidURL):  # a space, a bad port: they quote the URL
        raise malformed from None
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
