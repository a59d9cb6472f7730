"""An OpenID provider that can be told to misbehave, for the refusals in tests/api/sso.rs
(oidc-provider-mock, the real provider the browser test uses, only mints good tokens):
discovery, JWKS, an authorize endpoint that approves at once, and a token endpoint that mints
ID tokens with a chosen fault. Signed with PyJWT; nothing here is shared with Natter's code.

Usage: python fake_oidc.py PORT
Control: POST /_control with JSON {"fault": NAME, "claims": {...}} sets the fault and the
claims (sub, email, email_verified, name, ...) for the next logins. Faults: none, bad_sig,
unknown_kid, wrong_aud, extra_aud, wrong_iss, expired, iat_future, wrong_nonce,
missing_nonce, alg_none, hs256, no_id_token, token_error.
PKCE S256 is checked: a wrong code_verifier gets 400 invalid_grant.
"""
import base64, hashlib, json, secrets, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt  # PyJWT
from cryptography.hazmat.primitives.asymmetric import rsa

PORT = int(sys.argv[1])
ISSUER = f"http://127.0.0.1:{PORT}"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "k1"
STATE = {"fault": "none", "claims": {"sub": "user-1", "email": "user1@example.com",
                                    "email_verified": True, "name": "User One"}}
CODES = {}  # code -> dict(client_id, redirect_uri, nonce, challenge, claims)
LOCK = threading.Lock()


def jwk_public(key, kid):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return jwk


def mint(client_id, client_secret, nonce, claims, fault):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": client_id, "iat": now, "exp": now + 300, **claims}
    if nonce is not None:
        payload["nonce"] = nonce
    key, kid, alg = KEY, KID, "RS256"
    if fault == "bad_sig": key = OTHER_KEY                      # same kid, wrong key
    if fault == "unknown_kid": key, kid = OTHER_KEY, "nope"
    if fault == "wrong_aud": payload["aud"] = "someone-else"
    if fault == "extra_aud": payload["aud"] = [client_id, "someone-else"]
    if fault == "wrong_iss": payload["iss"] = "http://evil.example"
    if fault == "expired": payload.update(iat=now - 600, exp=now - 300)
    if fault == "iat_future": payload["iat"] = now + 3600
    if fault == "wrong_nonce": payload["nonce"] = "not-the-nonce"
    if fault == "missing_nonce": payload.pop("nonce", None)
    if fault == "alg_none":
        return jwt.encode(payload, None, algorithm="none")
    if fault == "hs256":
        return jwt.encode(payload, client_secret or "secret", algorithm="HS256", headers={"kid": kid})
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


class H(BaseHTTPRequestHandler):
    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers(); self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path); q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/.well-known/openid-configuration":
            return self.send_json(200, {
                "issuer": ISSUER,
                "authorization_endpoint": ISSUER + "/authorize",
                "token_endpoint": ISSUER + "/token",
                "jwks_uri": ISSUER + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "scopes_supported": ["openid", "email", "profile"],
            })
        if u.path == "/jwks":
            return self.send_json(200, {"keys": [jwk_public(KEY, KID)]})
        if u.path == "/authorize":  # approves at once: 302 back with code + state
            code = secrets.token_urlsafe(24)
            with LOCK:
                CODES[code] = dict(client_id=q.get("client_id"), redirect_uri=q.get("redirect_uri"),
                                   nonce=q.get("nonce"), challenge=q.get("code_challenge"),
                                   claims=dict(STATE["claims"]))
            loc = q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") + urlencode(
                {"code": code, "state": q.get("state", "")})
            self.send_response(302); self.send_header("Location", loc)
            self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_json(404, {"error": "not_found"})

    def do_POST(self):
        u = urlparse(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if u.path == "/_control":
            with LOCK: STATE.update(json.loads(raw))
            return self.send_json(200, STATE)
        if u.path != "/token":
            return self.send_json(404, {"error": "not_found"})
        f = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        client_id, secret = f.get("client_id"), f.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            from urllib.parse import unquote
            cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = unquote(cid), unquote(sec)
        with LOCK: c = CODES.pop(f.get("code", ""), None); fault = STATE["fault"]
        if not c or c["client_id"] != client_id or c["redirect_uri"] != f.get("redirect_uri"):
            return self.send_json(400, {"error": "invalid_grant"})
        if c["challenge"]:
            v = f.get("code_verifier", "").encode()
            if base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=").decode() != c["challenge"]:
                return self.send_json(400, {"error": "invalid_grant", "error_description": "PKCE"})
        if fault == "token_error":
            return self.send_json(400, {"error": "invalid_client"})
        resp = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300}
        if fault != "no_id_token":
            resp["id_token"] = mint(client_id, secret, c["nonce"], c["claims"], fault)
        self.send_json(200, resp, [("Cache-Control", "no-store")])

    def log_message(self, *a): pass


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
