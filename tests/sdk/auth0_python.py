#!/usr/bin/env python3
"""The stock Auth0 Python SDK (`auth0-python`) against the gateway, as an application uses it.

    python tests/sdk/auth0_python.py --url http://127.0.0.1:8080 [--issuer https://127.0.0.1:8080/]

`.ci/sdk.sh` runs it against the demo on free ports, with the pinned SDK in a virtual
environment. The SDK is given the gateway's address as its "domain"; nothing of the SDK is
patched. Steps (one line each, then `N passed, M failed`; exit status 1 on any failure):

  1. password-realm login: `GetToken.login(..., realm=...)`, the standard OAuth 2.0 answer;
  2. the id_token accepted by the SDK's own `TokenVerifier` (`AsymmetricSignatureVerifier` on
     the gateway's `/.well-known/jwks.json`, `iss` the configured issuer, `aud` the client_id);
  3. `/userinfo` through the SDK's `Users.userinfo` with the access token;
  4. `GetToken.refresh_token(...)`: new tokens, the new id_token accepted too;
  5. a wrong password refused: the SDK raises `Auth0Error` with 403 `invalid_grant`.

The gateway identifies the calling application by its `secret` header. `GetToken` has no
option for extra headers, so the header goes into the SDK's `RestClient.base_headers` (the
headers it merges into every request it sends: Content-Type, User-Agent, Auth0-Client) —
one documented attribute set once after construction, no subclass and no monkey-patching.

The client is the demo's `service` client: it answers with the standard OAuth 2.0 shape
(`token_response: oauth2`). The `mobile` client answers in camelCase, which no stock SDK reads.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from importlib.metadata import version
from urllib.parse import urlsplit

from auth0.authentication import GetToken, Users
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier, TokenVerifier

try:  # auth0-python 4.x
    from auth0.exceptions import Auth0Error, TokenValidationError
except ImportError:  # 5.x and later moved them under auth0.authentication
    from auth0.authentication.exceptions import Auth0Error, TokenValidationError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    ap.add_argument("--issuer", help="the id_token's expected iss (default https://<host:port of --url>/)")
    ap.add_argument("--client-id", default="service-app")
    ap.add_argument("--client-secret", default="service-client-secret")
    ap.add_argument("--secret", default="service-secret", help="the gateway's `secret` header of the client")
    ap.add_argument("--audience", default="https://api.authgate.local")
    ap.add_argument("--username", default="demo@example.com")
    ap.add_argument("--password", default="demo-password")
    ap.add_argument("--realm", default="Username-Password-Authentication")
    args = ap.parse_args()

    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
        ap.error(f"--url must be http(s)://host:port, not {args.url!r}")
    domain = url.netloc
    # What the SDKs demand: the issuer is https://<the domain they were given>/.
    issuer = args.issuer or f"https://{domain}/"
    base = f"{url.scheme}://{domain}"
    print(f"auth0-python {version('auth0-python')} against {base} (domain {domain}, issuer {issuer})")

    # protocol: a constructor argument of the SDK's authentication clients ("useful for
    # testing", default https), so the plain-http demo is reached without any patch.
    get_token = GetToken(
        domain, args.client_id, client_secret=args.client_secret, protocol=url.scheme, timeout=10.0
    )
    get_token.client.base_headers["secret"] = args.secret
    users = Users(domain, protocol=url.scheme, timeout=10.0)
    verifier = TokenVerifier(
        signature_verifier=AsymmetricSignatureVerifier(f"{base}/.well-known/jwks.json"),
        issuer=issuer,
        audience=args.client_id,
    )

    passed = failed = 0
    state: dict[str, dict] = {}

    def step(name: str, fn, needs: str | None = None) -> None:
        nonlocal passed, failed
        if needs and needs not in state:
            failed += 1
            print(f"FAIL {name}: not run, it needs the result of {needs!r}")
            return
        try:
            detail = fn()
        except (Auth0Error, TokenValidationError, AssertionError) as e:
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {describe(e)}")
            return
        except Exception:  # a crash is a failure of this step, the others still run
            failed += 1
            print(f"FAIL {name}: unexpected error")
            traceback.print_exc(file=sys.stdout)
            return
        passed += 1
        print(f"ok   {name}: {detail}")

    def login():
        tokens = get_token.login(
            username=args.username,
            password=args.password,
            realm=args.realm,
            scope="openid profile email offline_access",
            audience=args.audience,
        )
        check_oauth2_shape(tokens, login=True)
        state["login"] = tokens
        return f"token_type {tokens['token_type']}, expires_in {tokens['expires_in']}, " + ", ".join(
            k for k in ("access_token", "id_token", "refresh_token") if k in tokens
        )

    def verify_id_token():
        claims = verifier.verify(state["login"]["id_token"])
        assert claims.get("email") == args.username, f"email {claims.get('email')!r}, expected {args.username!r}"
        return f"iss {claims['iss']}, aud {claims['aud']}, sub {claims['sub']}"

    def userinfo():
        me = users.userinfo(state["login"]["access_token"])
        assert me.get("email") == args.username, f"email {me.get('email')!r} in {me}"
        return f"email {me['email']}, sub {me.get('sub')}"

    def refresh():
        old = state["login"]
        tokens = get_token.refresh_token(old["refresh_token"])
        check_oauth2_shape(tokens, login=False)
        assert tokens["access_token"] != old["access_token"], "the same access token came back"
        detail = "new access_token"
        if "id_token" in tokens:
            claims = verifier.verify(tokens["id_token"])
            detail += f", new id_token accepted by TokenVerifier (sub {claims['sub']})"
        if "refresh_token" in tokens:
            detail += ", refresh_token " + ("rotated" if tokens["refresh_token"] != old["refresh_token"] else "kept")
        return detail

    def wrong_password():
        try:
            get_token.login(
                username=args.username,
                password=args.password + "-wrong",
                realm=args.realm,
                scope="openid",
                audience=args.audience,
            )
        except Auth0Error as e:
            assert (e.status_code, e.error_code) == (403, "invalid_grant"), (
                f"expected 403 invalid_grant, got {e.status_code} {e.error_code}: {e.message}"
            )
            return f"Auth0Error {e.status_code} {e.error_code}: {e.message}"
        raise AssertionError("the login with a wrong password succeeded")

    step("password-realm login (GetToken.login)", login)
    step("id_token accepted by TokenVerifier", verify_id_token, needs="login")
    step("userinfo (Users.userinfo)", userinfo, needs="login")
    step("refresh (GetToken.refresh_token)", refresh, needs="login")
    step("wrong password refused with 403 invalid_grant", wrong_password)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def check_oauth2_shape(tokens, login: bool) -> None:
    """The standard OAuth 2.0 token answer; a login with openid and offline_access has an
    id_token and a refresh token too."""
    assert isinstance(tokens, dict), f"not a JSON object: {tokens!r:.200}"
    required = ("access_token", "token_type", "expires_in") + (("id_token", "refresh_token") if login else ())
    missing = [k for k in required if k not in tokens]
    assert not missing, f"missing {missing} in an answer with {sorted(tokens)}"
    assert tokens["token_type"].lower() == "bearer", f"token_type {tokens['token_type']!r}"


def describe(e: Exception) -> str:
    if isinstance(e, Auth0Error):
        return f"{e.status_code} {e.error_code}: {e.message}"
    return str(e)


if __name__ == "__main__":
    sys.exit(main())
