"""Email over SMTP to the recipient's `reps.email`; the login comes from environment variables
the playbook names (`user_env`, `password_env`), never from the playbook.

The server's certificate is verified (against the system's CAs, or `ca_file`'s): `tls:
starttls` (the default) upgrades the connection before anything else is said and fails when
the server cannot; `ssl` speaks TLS from the first byte (SMTPS, port 465); `none` is plain
text and is warned about. A password is never sent without TLS.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from salesplay.engine.delivery.channels.base import (
    ENV_NAME,
    ChannelKind,
    Concern,
    Configured,
    Message,
    Recipient,
    SendError,
    one_line,
    secret,
)

TLS = ("starttls", "ssl", "none")


def tls_mode(spec: dict[str, Any]) -> str:
    """`tls`, else the older `starttls: true|false` (starttls|none), else starttls."""
    if "tls" in spec:
        return str(spec["tls"])
    if "starttls" in spec:
        return "starttls" if spec["starttls"] else "none"
    return "starttls"


def default_port(spec: dict[str, Any]) -> int:
    return 465 if tls_mode(spec) == "ssl" else 25


def check(spec: dict[str, Any]) -> list[Concern]:
    """The TLS settings agree, and a login is never configured without TLS."""
    found: list[Concern] = []
    if "tls" in spec and "starttls" in spec:
        found.append(Concern("starttls", "starttls is the older name of tls: write tls alone"))
    if ("user_env" in spec) != ("password_env" in spec):
        missing = "password_env" if "user_env" in spec else "user_env"
        found.append(Concern(None, f"logging in needs user_env and password_env (add {missing})"))
    if tls_mode(spec) == "none":
        key = "tls" if "tls" in spec else "starttls"
        if "user_env" in spec or "password_env" in spec:
            found.append(
                Concern(key, "a password is never sent without TLS: use tls: starttls or ssl")
            )
        if "ca_file" in spec:
            found.append(Concern("ca_file", "ca_file verifies a TLS server; tls is none"))
        found.append(
            Concern(
                key,
                "no TLS: mail goes out unencrypted to a server nobody verifies",
                warning=True,
            )
        )
    return found


class Email(Configured):
    def send(self, message: Message) -> None:
        person = message.recipient
        if person is None or not person.email:
            who = person.id if person else "nobody"
            raise SendError(f"{who} has no email address (reps.email)", permanent=True)
        mail = self.mail(message, person)
        mode = tls_mode(self.spec)
        host = self.spec["smtp_host"]
        port = int(self.spec.get("smtp_port", default_port(self.spec)))
        context = self.context() if mode != "none" else None
        try:
            smtp = (
                smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=context)
                if mode == "ssl"
                else smtplib.SMTP(host, port, timeout=self.timeout)
            )
            with smtp:
                if mode == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):  # never fall back to plain text
                        raise SendError("the server offers no STARTTLS (tls: starttls): not sent")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if "user_env" in self.spec:
                    if mode == "none":  # the checks refuse this playbook; never send it anyway
                        raise SendError("no login without TLS", permanent=True)
                    smtp.login(
                        secret(self.env, self.spec, "user_env"),
                        secret(self.env, self.spec, "password_env"),
                    )
                smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final word on this message (RFC 5321); 4xx: try again later
            said = exc.smtp_error
            said = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
            reason = one_line(f"SMTP {exc.smtp_code}: {said}")
            raise SendError(reason, permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise SendError(f"SMTP: recipient refused ({codes})", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(one_line(f"SMTP: {exc}")) from None

    def mail(self, message: Message, person: Recipient) -> EmailMessage:
        """The mail, its headers on one line each: a line break in a customer's name would
        otherwise end the Subject and start a header of its own."""
        first = message.items[0].text
        subject = self.spec.get("subject") or (
            first if not message.digest else f"{len(message.items)} 条提醒"
        )
        try:
            mail = EmailMessage()
            mail["From"] = one_line(self.spec["sender"])
            mail["To"] = one_line(person.email or "")
            mail["Subject"] = one_line(subject)
            mail["Message-ID"] = f"<salesplay-{message.key.replace(',', '.')}@salesplay>"
            mail.set_content(message.text())
        except Exception as exc:  # the email package's own errors and bugs ('x@' → IndexError)
            # Writing the mail needs nothing but the message: what failed once fails again.
            why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise SendError(one_line(f"cannot write the mail: {why}"), permanent=True) from None
        return mail

    def context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and name: the system's CAs, or only ca_file's."""
        try:
            return ssl.create_default_context(cafile=self.spec.get("ca_file"))
        except (OSError, ValueError) as exc:
            raise SendError(one_line(f"cannot read ca_file: {exc}")) from None


KIND = ChannelKind(
    "email",
    Email,
    {
        "smtp_host": {"type": "string"},
        "smtp_port": {
            "type": "integer",
            "minimum": 1,
            "description": "email: default 25, or 465 with tls: ssl",
        },
        "sender": {"type": "string", "description": "email: the From address"},
        "subject": {"type": "string", "description": "email: the subject line"},
        "user_env": ENV_NAME,
        "password_env": ENV_NAME,
        "tls": {
            "enum": list(TLS),
            "description": "email: starttls (default), ssl (SMTPS, port 465) or none",
        },
        "starttls": {"type": "boolean", "description": "email: the older name of tls: starttls"},
        "ca_file": {
            "type": "string",
            "description": "email: trust the CA certificates in this PEM file (a private CA)",
        },
    },
    needs=("smtp_host", "sender"),
    check=check,
)
