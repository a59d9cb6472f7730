"""A real SMTP server (aiosmtpd) for Natter's mail tests: it listens on the port given (or any
free one), prints `{"port": N}` once ready, then one JSON line per message received, parsed with
Python's own `email` package: envelope, headers, and the plain-text and HTML parts.

Sign-ups send a confirmation of the address when mail is on; tests of other mail do not want
them, so they are left out unless `--confirmations` is given.
"""

import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


CONFIRMATION = "Confirm your email address for Natter"
WANT_CONFIRMATIONS = "--confirmations" in sys.argv


class Sink:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if str(message["Subject"]) == CONFIRMATION and not WANT_CONFIRMATIONS:
            return "250 OK"
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "from": str(message["From"]),
                    "to": str(message["To"]),
                    "subject": str(message["Subject"]),
                    "list_unsubscribe": str(message["List-Unsubscribe"]),
                    "list_unsubscribe_post": str(message["List-Unsubscribe-Post"]),
                    "content_type": message.get_content_type(),
                    "text": parts.get("text/plain", ""),
                    "html": parts.get("text/html", ""),
                }
            ),
            flush=True,
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main():
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    port = int(numbers[0]) if numbers else free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
