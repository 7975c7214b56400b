"""A JSON Lines file: one line per message, appended and flushed to disk before it counts."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from salesplay.engine.delivery.channels.base import ChannelKind, Message, SendError


class JsonLines:
    def __init__(self, name: str, spec: dict[str, Any], env: Mapping[str, str]) -> None:
        self.name = name
        self.path = str(spec["path"])

    def send(self, message: Message) -> None:
        line = json.dumps({"channel": self.name, **message.as_json()}, ensure_ascii=False)
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line + "\n")
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            raise SendError(f"cannot write {self.path}: {exc.strerror}") from None


KIND = ChannelKind(
    "jsonl",
    JsonLines,
    {"path": {"type": "string", "description": "jsonl: the file to append to"}},
    needs=("path",),
)
