"""Delivery channels: one module per kind, each ending in its KIND, registered in KINDS.

Adding a channel is one module here (a class with send(message), raising SendError on failure,
and its ChannelKind: type name, settings, what it needs, the far end's rate limit) and one
line in KINDS; the playbook schema, the checks and the dispatcher take it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from salesplay.engine.delivery.channels import dingtalk, email, feishu, jsonl, webhook, wecom
from salesplay.engine.delivery.channels.base import (
    Channel,
    ChannelKind,
    Item,
    Message,
    Recipient,
    SendError,
    one_line,
    redact,
    secrets,
)

KINDS: dict[str, ChannelKind] = {
    kind.type: kind
    for kind in (jsonl.KIND, webhook.KIND, wecom.KIND, dingtalk.KIND, feishu.KIND, email.KIND)
}


def make(name: str, spec: dict[str, Any], env: Mapping[str, str]) -> Channel:
    """The channel a playbook's `delivery.channels.NAME` describes; secrets come from env."""
    return KINDS[spec["type"]].make(name, spec, env)


__all__ = [
    "KINDS",
    "Channel",
    "ChannelKind",
    "Item",
    "Message",
    "Recipient",
    "SendError",
    "make",
    "one_line",
    "redact",
    "secrets",
]
