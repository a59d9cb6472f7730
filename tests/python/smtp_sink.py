"""A real SMTP server (aiosmtpd) for Natter's mail tests: it listens on the port given (or any
free one), prints `{"port": N}` once ready, then one JSON line per message received, parsed with
Python's own `email` package: envelope, headers, and the plain-text and HTML parts.
"""

import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
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
    port = int(sys.argv[1]) if len(sys.argv) > 1 else free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
