"""A WeCom (企业微信) group robot: a text message that @-mentions the recipient by mobile or
user id. WeCom answers HTTP 200 with a non-zero errcode on failure; 20 messages a minute."""

from __future__ import annotations

from typing import Any

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Configured,
    Message,
    SendError,
)


class WeCom(Configured):
    def body(self, message: Message) -> dict[str, Any]:
        text: dict[str, Any] = {"content": message.text()}
        person = message.recipient
        if person and person.mobile:
            text["mentioned_mobile_list"] = [person.mobile]
        if person and person.im_id:
            text["mentioned_list"] = [person.im_id]
        return {"msgtype": "text", "text": text}

    def send(self, message: Message) -> None:
        answer = self.post(self.body(message))
        if answer.get("errcode", 0) != 0:
            raise SendError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


KIND = ChannelKind("wecom", WeCom, {"url_env": ENV_NAME}, needs=("url_env",), rate_per_minute=20)
