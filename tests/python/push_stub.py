"""A local push service for Natter's Web Push tests, checked with independent code.

It makes one browser-side key pair and auth secret per subscription named on the command line
(`ok`, `gone`: answers 410, `flaky`: answers 503 once, then 201), prints each subscription's
PushSubscription JSON on one line, then serves. For every push it decrypts the body with
`http_ece` (RFC 8291 aes128gcm) and verifies the VAPID header with `py_vapid` (RFC 8292), and
prints a JSON line: which subscription, the status it answered, the decrypted payload, the
VAPID claims and whether the signature verified.
"""

import base64
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import py_vapid
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Subscription:
    def __init__(self, name: str):
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.calls = 0

    def public(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )


SUBS = {name: Subscription(name) for name in sys.argv[1:] or ["ok"]}
# Requests are handled on many threads; one line each must reach stdout whole.
PRINT = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        name = self.path.rsplit("/", 1)[-1]
        sub = SUBS.get(name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        record = {"subscription": name, "headers": {k.lower(): v for k, v in self.headers.items()}}
        if sub is None:
            status = 404
        else:
            sub.calls += 1
            status = 201
            if name == "gone":
                status = 410
            elif name == "flaky" and sub.calls == 1:
                status = 503
            try:
                plain = http_ece.decrypt(
                    body, private_key=sub.key, auth_secret=sub.auth, version="aes128gcm"
                )
                record["payload"] = json.loads(plain)
            except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
                record["decrypt_error"] = repr(e)
            auth = self.headers.get("Authorization", "")
            try:
                record["vapid_verified"] = bool(py_vapid.Vapid02.verify(auth))
                params = dict(p.split("=", 1) for p in auth.split(" ", 1)[1].split(","))
                record["claims"] = py_vapid.jwt.decode(params["t"].strip(), params["k"].strip())
            except Exception as e:  # noqa: BLE001
                record["vapid_error"] = repr(e)
        record["status"] = status
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with PRINT:
            print(json.dumps(record), flush=True)


class Server(ThreadingHTTPServer):
    # Natter sends many pushes at once; the default backlog of 5 would refuse most of them.
    request_queue_size = 256
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
port = server.server_address[1]
for sub in SUBS.values():
    print(
        json.dumps(
            {
                "endpoint": f"http://127.0.0.1:{port}/push/{sub.name}",
                "expirationTime": None,
                "keys": {"p256dh": b64url(sub.public()), "auth": b64url(sub.auth)},
            }
        ),
        flush=True,
    )
server.serve_forever()
