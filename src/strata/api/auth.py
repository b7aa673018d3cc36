"""Authentication, per-user rate limits and the FastAPI dependencies other routers use.

Clients identify with an API key sent as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or
HTTP Basic with the key as password (what PEPS-era scripts send).  No credentials means anonymous:
public collections can be read, nothing can be written.  Wrong or revoked credentials answer 401
rather than silently falling back to anonymous.

Every request passes a token bucket keyed by user (or by client address when anonymous): going
above ``rate_limit_per_second`` after a burst of ``rate_limit_burst`` answers 429 with
``Retry-After``.  Routers read the caller with the dependencies :func:`current_user`,
:func:`require_user` and :func:`require_admin`.
"""

from __future__ import annotations

import base64
import time
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from strata.api.errors import AuthenticationError, PermissionDeniedError, RateLimitError, error_response
from strata.api.users import User, UserStore

__all__ = [
    "AuthMiddleware",
    "CurrentUser",
    "RateLimiter",
    "account_of",
    "current_user",
    "require_admin",
    "require_user",
]

_CACHE_SECONDS = 2.0
_MAX_BUCKETS = 100_000


class RateLimiter:
    """Token buckets: ``rate`` requests per second sustained, ``burst`` more at once, per key.

    A key with its own rate gets a burst scaled by the same factor (at least one request).
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float | None = None) -> None:
        """Spend one token of ``key``'s bucket.

        Raises
        ------
        RateLimitError
            If the bucket is empty; ``retry_after`` is when the next token arrives.
        """
        rate = rate or self.rate
        capacity = max(1.0, self.burst * rate / self.rate)  # a burst lasts as long at every rate
        now = time.monotonic()
        if len(self._buckets) > _MAX_BUCKETS:  # forget callers idle long enough to be full again
            idle = self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < idle}
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimitError(
                f"rate limit: more than {rate:g} requests per second", retry_after=(1.0 - tokens) / rate
            )
        self._buckets[key] = (tokens - 1.0, now)


def _credentials(scope: Scope) -> str | None:
    headers: dict[str, str] = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    if key := headers.get("x-api-key"):
        return key.strip()
    auth = headers.get("authorization")
    if not auth:
        return None
    kind, _, value = auth.partition(" ")
    if kind.lower() == "bearer":
        return value.strip()
    if kind.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except ValueError:
            raise AuthenticationError("Authorization: malformed Basic credentials") from None
        return password
    raise AuthenticationError(f"Authorization: unsupported scheme {kind!r} (use Bearer or Basic)")


class AuthMiddleware:
    """ASGI middleware resolving the caller into ``request.state.user`` and applying rate limits."""

    def __init__(self, app: ASGIApp, users: UserStore, limiter: RateLimiter) -> None:
        self.app = app
        self.users = users
        self.limiter = limiter
        self._cache: dict[str, tuple[float, User | None]] = {}

    async def _user(self, key: str) -> User | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        user = await to_thread.run_sync(self.users.authenticate, key)
        self._cache[key] = (now, user)
        return user

    async def _caller(self, scope: Scope) -> User | None:
        """The user of the request's credentials (``None`` when anonymous), after the rate limit."""
        key = _credentials(scope)
        user = None
        if key is not None:
            user = await self._user(key)
            if user is None:
                raise AuthenticationError("API key: unknown or revoked")
        client = scope.get("client") or ("unknown", 0)
        self.limiter.take(
            f"user:{user.name}" if user else f"ip:{client[0]}", user.rate_limit_per_second if user else None
        )
        return user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the caller, then pass the request on (or answer 401/429)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            user = await self._caller(scope)
        except (AuthenticationError, RateLimitError) as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


def current_user(request: Request) -> User | None:
    """The authenticated caller, or ``None`` when anonymous."""
    return getattr(request.state, "user", None)


def require_user(user: Annotated[User | None, Depends(current_user)]) -> User:
    """The authenticated caller; anonymous requests answer 401."""
    if user is None:
        raise AuthenticationError("this operation needs an API key (Authorization: Bearer <key>)")
    return user


def require_admin(user: Annotated[User, Depends(require_user)]) -> User:
    """The authenticated caller if an admin; others answer 403, anonymous 401."""
    if not user.is_admin:
        raise PermissionDeniedError(f"user {user.name!r} may not modify the catalog (admin role needed)")
    return user


CurrentUser = Annotated[User | None, Depends(current_user)]


def account_of(request: Request) -> str:
    """The quota account of the caller: its user name, or its address when anonymous."""
    user = current_user(request)
    if user is not None:
        return f"user:{user.name}"
    client = request.client
    return f"ip:{client.host if client else 'unknown'}"
