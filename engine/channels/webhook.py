"""A generic webhook: the message as JSON, with `Idempotency-Key: <delivery id>` so that the
receiver can drop the repeats at-least-once delivery may bring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Message, post_json, secret


class Webhook:
    def __init__(self, name: str, spec: dict[str, Any], env: Mapping[str, str]) -> None:
        self.name = name
        self.spec = spec
        self.env = env
        self.timeout = float(spec.get("timeout", 10))

    def send(self, message: Message) -> None:
        url = secret(self.env, self.spec, "url_env")
        post_json(url, message.as_json(), self.timeout, {"Idempotency-Key": message.key})
