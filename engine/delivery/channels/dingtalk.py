"""A DingTalk (钉钉) group robot: a text message with `at` by mobile or user id. DingTalk
answers HTTP 200 with a non-zero errcode on failure; 20 messages a minute."""

from __future__ import annotations

from typing import Any

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Configured,
    Message,
    SendError,
)


class DingTalk(Configured):
    def body(self, message: Message) -> dict[str, Any]:
        person = message.recipient
        at: dict[str, Any] = {"atMobiles": [], "atUserIds": [], "isAtAll": False}
        content = message.text()
        if person and person.mobile:
            at["atMobiles"] = [person.mobile]
            content += f" @{person.mobile}"  # DingTalk highlights only an @ written in the text
        if person and person.im_id:
            at["atUserIds"] = [person.im_id]
        return {"msgtype": "text", "text": {"content": content}, "at": at}

    def send(self, message: Message) -> None:
        answer = self.post(self.body(message))
        if answer.get("errcode", 0) != 0:
            raise SendError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


KIND = ChannelKind(
    "dingtalk", DingTalk, {"url_env": ENV_NAME}, needs=("url_env",), rate_per_minute=20
)
