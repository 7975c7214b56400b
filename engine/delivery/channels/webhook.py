"""A generic webhook: the message as JSON, with `Idempotency-Key: <delivery id>` so that the
receiver can drop the repeats at-least-once delivery may bring."""

from __future__ import annotations

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Configured,
    Message,
)


class Webhook(Configured):
    def send(self, message: Message) -> None:
        self.post(message.as_json(), {"Idempotency-Key": message.key})


KIND = ChannelKind("webhook", Webhook, {"url_env": ENV_NAME}, needs=("url_env",))
