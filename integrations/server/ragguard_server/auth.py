"""Bearer-token authentication for the ``/v1`` routes.

Two layers share one :class:`TokenVerifier`:

* :class:`BearerAuthMiddleware` rejects unauthenticated requests before the
  body is read or parsed, so an anonymous client gets 401 (never a 413 or a
  422 about a body it was not allowed to send) and cannot make the server
  buffer a large body. It is default-deny: only the public operational paths
  pass without a token.
* :func:`require_token`, a dependency on the ``/v1`` router, checks again per
  route. It is what declares the scheme in OpenAPI, and it still holds if the
  app is mounted under a prefix the middleware's path list does not expect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ragguard_server.asgi import send_json

#: Paths served without a token. They expose no chunk text and no key material.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json"})

UNAUTHORIZED_DETAIL = "missing or invalid bearer token"
WWW_AUTHENTICATE = 'Bearer realm="ragguard"'

_bearer = HTTPBearer(auto_error=False, description="An API token from RAGGUARD_API_TOKENS.")


class TokenVerifier:
    """Checks bearer tokens against the configured set in constant time.

    Only SHA-256 digests of the tokens are kept. Comparing fixed-length digests
    means :func:`hmac.compare_digest` leaks neither content nor length, and
    every configured token is compared on every request (no early exit), so
    timing does not reveal which token matched or how many there are.

    Args:
        tokens: Accepted tokens; empty means authentication is off
            (only ever the case with ``unsafe_no_auth`` on a loopback host).
    """

    def __init__(self, tokens: Iterable[SecretStr]) -> None:
        self._digests = [_digest(t.get_secret_value()) for t in tokens]

    @property
    def enabled(self) -> bool:
        """True when a token is required."""
        return bool(self._digests)

    def verify(self, token: str | None) -> bool:
        """True if ``token`` is one of the configured tokens (always True when disabled)."""
        if not self._digests:
            return True
        given = _digest(token or "")
        ok = False
        for expected in self._digests:
            ok |= hmac.compare_digest(given, expected)
        return ok and bool(token)

    def verify_header(self, authorization: str | None) -> bool:
        """Check an ``Authorization`` header value of the form ``Bearer <token>``."""
        if not self._digests:
            return True
        return self.verify(parse_bearer(authorization))


def parse_bearer(authorization: str | None) -> str | None:
    """The token from ``Bearer <token>`` (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def unauthorized() -> HTTPException:
    """The 401 every unauthenticated ``/v1`` request gets."""
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=UNAUTHORIZED_DETAIL,
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Router dependency: 401 unless the request carries a valid bearer token."""
    verifier: TokenVerifier = request.app.state.ragguard.verifier
    token = credentials.credentials if credentials is not None else None
    if not verifier.verify(token):
        raise unauthorized()


class BearerAuthMiddleware:
    """Default-deny ASGI middleware: every HTTP path outside :data:`PUBLIC_PATHS` needs a token.

    Args:
        app: The wrapped ASGI app.
        verifier: The configured tokens.
    """

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass public paths and authenticated requests; answer 401 otherwise."""
        if scope["type"] != "http" or not self.verifier.enabled or _relative_path(scope) in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if self.verifier.verify_header(Headers(scope=scope).get("authorization")):
            await self.app(scope, receive, send)
            return
        await send_json(
            send,
            401,
            {"detail": UNAUTHORIZED_DETAIL, "code": "unauthorized"},
            [(b"www-authenticate", WWW_AUTHENTICATE.encode())],
        )


def _relative_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path
