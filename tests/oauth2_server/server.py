"""An OAuth 2.0 authorization server for symbl-auth's conformance tests, built on Authlib.

Authlib's RFC 6749 server does the protocol: the client credentials grant with
client_secret_basic and client_secret_post, scopes, RFC 7009 revocation and RFC 6750 Bearer
checks on the protected routes. This script only supplies storage (in memory), the routes,
and counters for the tests.

    python server.py [--expires-in SECONDS] [--max-seconds SECONDS]

Clients come as JSON in OAUTH2_TEST_CLIENTS:
    [{"client_id": "...", "client_secret": "...", "auth_method": "client_secret_basic",
      "scope": "read write", "grant_allowed": true}]
Each client may authenticate only with its own auth_method, so a test sees which one was used;
one with "grant_allowed": false may not use the client credentials grant (unauthorized_client).
`--expires-in 0` grants tokens without `expires_in` (and that never expire).

Listens on 127.0.0.1 on a free port and prints "listening on http://127.0.0.1:PORT" once ready.
Exits when its standard input closes (the test that started it is gone) or after
--max-seconds, whichever comes first.

Routes: POST /token, POST /revoke, GET /api/read (scope "read"), GET /api/admin (scope
"admin"), GET /stats (the counters as JSON).
"""

import argparse
import hmac
import json
import logging
import os
import sys
import threading
import time

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer,
    ResourceProtector,
    current_token,
)
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
SCOPES = ["read", "write", "admin"]


class Client(ClientMixin):
    def __init__(self, client_id, client_secret, auth_method, scope, grant_allowed=True):
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_method = auth_method
        self.scope = scope
        self.grant_allowed = grant_allowed

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.auth_method

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return self.grant_allowed and grant_type == "client_credentials"


class Token(TokenMixin):
    def __init__(self, client, data):
        self.client = client
        self.access_token = data["access_token"]
        self.scope = data.get("scope", "")
        self.expires_in = data.get("expires_in", 0)
        self.issued_at = time.monotonic()
        self.revoked = False

    def check_client(self, client):
        return client.get_client_id() == self.client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return bool(self.expires_in) and time.monotonic() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return None

    def get_client(self):
        return self.client


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return TOKENS.get(token_string)

    def revoke_token(self, token, request):
        token.revoked = True
        count("revocations")


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return TOKENS.get(token_string)


CLIENTS = {}
TOKENS = {}
LOCK = threading.Lock()
STATS = {
    "token_requests": 0,
    "tokens_issued": 0,
    "api_requests": 0,
    "api_unauthorized": 0,
    "api_forbidden": 0,
    "revocations": 0,
    "auth_methods": [],
    "last_token_form": {},
}
API_TOKENS = set()


def count(name, by=1):
    with LOCK:
        STATS[name] += by


def save_token(token, req):
    with LOCK:
        TOKENS[token["access_token"]] = Token(req.client, token)
        STATS["tokens_issued"] += 1
        STATS["auth_methods"].append(req.auth_method)


def create_app(expires_in):
    app = Flask(__name__)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": expires_in}
    server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
    server.scopes_supported = SCOPES
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(Validator())

    @app.before_request
    def before():
        if request.path == "/token":
            count("token_requests")
            # What the client sent, less the secret (client_secret_post puts it here).
            form = {k: v for k, v in request.form.items() if k != "client_secret"}
            with LOCK:
                STATS["last_token_form"] = form
        elif request.path.startswith("/api/"):
            count("api_requests")

    @app.after_request
    def after(response):
        if request.path.startswith("/api/"):
            if response.status_code == 401:
                count("api_unauthorized")
            elif response.status_code == 403:
                count("api_forbidden")
        return response

    @app.post("/token")
    def issue_token():
        return server.create_token_response()

    @app.post("/revoke")
    def revoke_token():
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    def resource():
        with LOCK:
            API_TOKENS.add(current_token.access_token)
        return jsonify(client_id=current_token.client.client_id, scope=current_token.scope)

    @app.get("/api/read")
    @require_oauth("read")
    def read():
        return resource()

    @app.get("/api/admin")
    @require_oauth("admin")
    def admin():
        return resource()

    @app.get("/stats")
    def stats():
        with LOCK:
            return jsonify(dict(STATS, distinct_api_tokens=len(API_TOKENS)))

    return app


def exit_when(event_source):
    def watch():
        event_source()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()

    for client in json.loads(os.environ.get("OAUTH2_TEST_CLIENTS", "[]")):
        CLIENTS[client["client_id"]] = Client(
            client["client_id"],
            client["client_secret"],
            client["auth_method"],
            client["scope"],
            client.get("grant_allowed", True),
        )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    httpd = make_server("127.0.0.1", 0, create_app(args.expires_in), threaded=True)
    exit_when(sys.stdin.read)
    exit_when(lambda: time.sleep(args.max_seconds))
    print(f"listening on http://127.0.0.1:{httpd.server_port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
