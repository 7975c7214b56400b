"""A Feishu (飞书) group robot: a text message, @-mentioning the recipient by user id with
Feishu's `<at user_id=…>` tag. Feishu answers HTTP 200 with a non-zero `code` on failure."""

from __future__ import annotations

from html import escape
from typing import Any

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Configured,
    Message,
    SendError,
)


class Feishu(Configured):
    def body(self, message: Message) -> dict[str, Any]:
        text = message.text()
        person = message.recipient
        if person and person.im_id:
            text = f'<at user_id="{escape(person.im_id)}">{escape(person.name or "")}</at> {text}'
        return {"msg_type": "text", "content": {"text": text}}

    def send(self, message: Message) -> None:
        answer = self.post(self.body(message))
        code = answer.get("code", answer.get("StatusCode", 0))
        if code != 0:
            raise SendError(f"code {code}: {answer.get('msg', answer.get('StatusMessage', ''))}")


KIND = ChannelKind("feishu", Feishu, {"url_env": ENV_NAME}, needs=("url_env",))
