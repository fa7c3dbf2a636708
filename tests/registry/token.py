#!/usr/bin/env python3
"""tests/registry/token.py PORTFILE KEY CERT USER PASS: a small bearer-token service for the
registry tests (Docker's token authentication, as docker/distribution's registry checks it).

GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
  with the right Basic credentials: a token granting every asked action;
  with none: a token granting pull only; with wrong ones: 401.
The token is a JWT signed RS256 with KEY (by the openssl command line), its certificate CERT in
the x5c header; the registry trusts CERT (rootcertbundle). Writes the port it listens on to
PORTFILE once it listens; logs one line per request to stderr."""
import base64, http.server, json, os, subprocess, sys, time, urllib.parse

portfile, key, cert, user, password = sys.argv[1:6]
ISSUER = "crumb-test-issuer"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    pem = open(cert).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())


def sign(data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                       capture_output=True, check=True)
    return p.stdout


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/token":
            self.send_error(404)
            return
        q = urllib.parse.parse_qs(u.query)
        granted_all = False
        a = self.headers.get("Authorization", "")
        if a.startswith("Basic "):
            try:
                u_, p_ = base64.b64decode(a[6:]).decode().split(":", 1)
            except Exception:
                u_, p_ = "", ""
            if (u_, p_) != (user, password):
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                return
            granted_all = True
        access = []
        for s in q.get("scope", []):
            parts = s.split(":")
            if len(parts) < 3:
                continue
            acts = parts[-1].split(",")
            if not granted_all:
                acts = [x for x in acts if x == "pull"]
            access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": acts})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user if granted_all else "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                  "access": access}
        head = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
        si = (b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())).encode()
        tok = si.decode() + "." + b64(sign(si))
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("token: " + (fmt % args) + " auth=" +
                         ("basic" if self.headers.get("Authorization") else "none") + "\n")


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
