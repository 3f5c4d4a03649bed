"""Schemathesis hooks for .ci/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

1. Credentials. A generated `secret` header or token is almost never valid, so nearly every
   login would be a 401. This auth provider logs the demo user in once per demo client
   (`mobile`, `service`, `website`: the three answer shapes) and gives each test case one of
   them at random (seeded), or no credential, or a wrong one. /oauth/refreshtoken and
   /userinfo (and half of the /logout calls) get that client's access token (Bearer, or the
   `sid` cookie for the web client); half of the refresh calls also get the client's real
   refresh token in their body; /users/me gets the access token the same way. The management
   operations (`/users…` but /users/me, `DELETE /sessions/{userId}`) get the demo's management
   client's secret (`admin`) most of the time, else another client's (403), none or a wrong
   one (401).

2. Two checks that wrap schemathesis' own `content_type_conformance` and
   `response_schema_conformance`: a web client's successful login is an empty `200` with no
   `Content-Type` and the `sid` cookie (docs/openapi.yaml, response `Tokens`), which OpenAPI
   cannot describe next to the JSON shapes of the other clients. Exactly that answer is let
   through; every other response goes to the built-in check unchanged.

The gateway's base URL comes from AUTHGATE_BASE_URL; the demo secrets and user from
gateway.yaml's defaults (AUTHGATE_DEMO_* override them).
"""

from __future__ import annotations

import json
import os
import random
import urllib.error
import urllib.parse
import urllib.request

import schemathesis
from schemathesis.specs.openapi.checks import content_type_conformance as builtin_content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance as builtin_response_schema_conformance

BASE_URL = os.environ.get("AUTHGATE_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
USERNAME = os.environ.get("AUTHGATE_DEMO_USERNAME", "demo@example.com")
PASSWORD = os.environ.get("AUTHGATE_DEMO_PASSWORD", "demo-password")
SECRETS = {
    "mobile": os.environ.get("AUTHGATE_DEMO_MOBILE_SECRET", "mobile-secret"),
    "service": os.environ.get("AUTHGATE_DEMO_SERVICE_SECRET", "service-secret"),
    "website": os.environ.get("AUTHGATE_DEMO_WEBSITE_SECRET", "website-secret"),
}
ADMIN_SECRET = os.environ.get("AUTHGATE_DEMO_ADMIN_SECRET", "admin-secret")
COOKIE = "sid"
LOGIN_PATHS = {"/oauth/token", "/oauth/ro", "/v1/auth/password/authenticate"}
TOKEN_PATHS = {"/oauth/token", "/oauth/refreshtoken"}
# Paths that take an access token (Bearer, or the web client's cookie).
CREDENTIAL_PATHS = {"/oauth/refreshtoken", "/userinfo", "/users/me"}

# Choices per test case: a client's credentials, none, or a wrong secret/token.
CHOICES = ["mobile", "service", "website", "mobile", "service", "website", None, "wrong"]
# Choices per management test case: mostly the management client, so the calls reach the tenant.
MANAGEMENT_CHOICES = ["admin", "admin", "admin", "admin", "admin", "mobile", None, "wrong"]
RNG = random.Random(int(os.environ.get("AUTHGATE_HOOKS_SEED", "1")))


def _login(secret: str) -> dict:
    """The demo user's tokens for the client of `secret`: access/refresh token or the cookie."""
    body = urllib.parse.urlencode(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD, "scope": "openid offline_access"}
    ).encode()
    request = urllib.request.Request(
        f"{BASE_URL}/oauth/token",
        data=body,
        method="POST",
        headers={"secret": secret, "content-type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        if not raw:
            for value in response.headers.get_all("set-cookie") or []:
                name, _, rest = value.partition("=")
                if name.strip() == COOKIE:
                    return {"cookie": rest.split(";", 1)[0], "refresh": None}
            raise RuntimeError("an empty login answer without the session cookie")
        data = json.loads(raw)
    access = data.get("accessToken") or data.get("access_token")
    refresh = data.get("refreshToken") or data.get("refresh_token")
    return {"bearer": access, "refresh": refresh}


def _is_management(path: str) -> bool:
    """A management operation: the `secret` of a client marked `management` decides."""
    return (path.startswith("/users") and path != "/users/me") or path.startswith("/sessions/")


@schemathesis.auth(refresh_interval=3600, retry_on=[]).apply_to(
    path_regex=r"^/(oauth/|v1/|userinfo$|logout$|users(/|$)|sessions/)"
)
class DemoClients:
    """Logs the demo user in with every demo client once; picks one per test case."""

    def get(self, case, ctx):
        return {name: _login(secret) for name, secret in SECRETS.items()}

    def set(self, case, data, ctx):
        path = case.operation.path
        headers = dict(case.headers or {})
        cookies = dict(case.cookies or {})
        headers.pop("secret", None)
        if _is_management(path):
            choice = RNG.choice(MANAGEMENT_CHOICES)
            if choice == "admin":
                headers["secret"] = ADMIN_SECRET
            elif choice == "wrong":
                headers["secret"] = "not-a-configured-secret"
            elif choice is not None:
                headers["secret"] = SECRETS[choice]
            case.headers = headers
            return
        choice = RNG.choice(CHOICES)
        if choice == "wrong":
            headers["secret"] = "not-a-configured-secret"
        elif choice is not None:
            headers["secret"] = SECRETS[choice]
        # /logout gets a credential half of the time: with the web client's cookie and no
        # Origin it exercises the cross-site refusal, with a Bearer the plain logout.
        with_credential = path in CREDENTIAL_PATHS or (path == "/logout" and RNG.random() < 0.5)
        if with_credential:
            headers.pop("Authorization", None)
            headers.pop("authorization", None)
            cookies.pop(COOKIE, None)
            credentials = data.get(choice) if choice in data else None
            if choice == "wrong":
                headers["Authorization"] = "Bearer not.a.token"
            elif credentials and credentials.get("cookie"):
                cookies[COOKIE] = credentials["cookie"]
            elif credentials and credentials.get("bearer"):
                headers["Authorization"] = f"Bearer {credentials['bearer']}"
            if (
                path == "/oauth/refreshtoken"
                and credentials
                and credentials.get("refresh")
                and isinstance(case.body, dict)
                and RNG.random() < 0.5
            ):
                body = dict(case.body)
                body.pop("refreshToken", None)
                body["refresh_token"] = credentials["refresh"]
                case.body = body
        elif path not in LOGIN_PATHS and path != "/logout":
            return
        case.headers = headers
        case.cookies = cookies


def _is_web_login(response, case) -> bool:
    """A web client's successful login: empty 200, no Content-Type, the session cookie set."""
    if case.operation.path not in TOKEN_PATHS | LOGIN_PATHS or response.status_code != 200 or response.content:
        return False
    if response.headers.get("content-type"):
        return False
    return any(v.split("=", 1)[0].strip() == COOKIE for v in response.headers.get("set-cookie", []))


@schemathesis.check
def content_type_conformance_web(ctx, response, case):
    """`content_type_conformance`, except for a web client's empty login answer."""
    if _is_web_login(response, case):
        return None
    return builtin_content_type_conformance(ctx, response, case)


@schemathesis.check
def response_schema_conformance_web(ctx, response, case):
    """`response_schema_conformance`, except for a web client's empty login answer."""
    if _is_web_login(response, case):
        return None
    return builtin_response_schema_conformance(ctx, response, case)
