"""Delivery channels: one module per kind, all behind the small interface in base.py.

Adding a channel is one module here, one line in CHANNELS, and its cases in
tests/engine/test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from salesplay.engine.delivery.channels import dingtalk, email, feishu, jsonl, webhook, wecom
from salesplay.engine.delivery.channels.base import Channel, Item, Message, Recipient, SendError

CHANNELS: dict[str, Callable[[str, dict[str, Any], Mapping[str, str]], Channel]] = {
    "jsonl": jsonl.JsonLines,
    "webhook": webhook.Webhook,
    "wecom": wecom.WeCom,
    "dingtalk": dingtalk.DingTalk,
    "feishu": feishu.Feishu,
    "email": email.Email,
}


def make(name: str, spec: dict[str, Any], env: Mapping[str, str]) -> Channel:
    """The channel a playbook's `delivery.channels.NAME` describes; secrets come from env."""
    return CHANNELS[spec["type"]](name, spec, env)


__all__ = ["CHANNELS", "Channel", "Item", "Message", "Recipient", "SendError", "make"]
