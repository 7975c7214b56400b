"""Email over SMTP to the recipient's `reps.email`; the password comes from an environment
variable the playbook names (`password_env`), never from the playbook."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Configured,
    Message,
    SendError,
    secret,
)


class Email(Configured):
    def send(self, message: Message) -> None:
        person = message.recipient
        if person is None or not person.email:
            who = person.id if person else "nobody"
            raise SendError(f"{who} has no email address (reps.email)", permanent=True)
        mail = EmailMessage()
        mail["From"] = self.spec["sender"]
        mail["To"] = person.email
        first = message.items[0].text
        mail["Subject"] = self.spec.get("subject") or (
            first if not message.digest else f"{len(message.items)} 条提醒"
        )
        mail["Message-ID"] = f"<salesplay-{message.key.replace(',', '.')}@salesplay>"
        mail.set_content(message.text())
        try:
            with smtplib.SMTP(
                self.spec["smtp_host"], int(self.spec.get("smtp_port", 25)), timeout=self.timeout
            ) as smtp:
                if self.spec.get("starttls"):
                    smtp.starttls()
                if "user_env" in self.spec:
                    smtp.login(
                        secret(self.env, self.spec, "user_env"),
                        secret(self.env, self.spec, "password_env"),
                    )
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP: {exc}") from None


KIND = ChannelKind(
    "email",
    Email,
    {
        "smtp_host": {"type": "string"},
        "smtp_port": {"type": "integer", "minimum": 1},
        "sender": {"type": "string", "description": "email: the From address"},
        "subject": {"type": "string", "description": "email: the subject line"},
        "user_env": ENV_NAME,
        "password_env": ENV_NAME,
        "starttls": {"type": "boolean"},
    },
    needs=("smtp_host", "sender"),
)
