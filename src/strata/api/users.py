"""Users of the HTTP API, their API keys, roles, private collections and download accounting.

The tables live in the catalog database (``settings.catalog_url``), so every Strata process that
opens the catalog (API, CLI, processing workers) sees the same users.  API keys are random tokens
shown once at creation; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from strata.api.errors import RateLimitError
from strata.errors import InputError, NotFoundError

__all__ = ["ROLES", "User", "UserStore", "engine_for", "seconds_to_midnight"]

ROLES = ("user", "admin")

_metadata = sa.MetaData()
_users = sa.Table(
    "strata_users",
    _metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("collections", sa.Text, nullable=False, default="[]"),
    sa.Column("rate_limit_per_second", sa.Float, nullable=True),
    sa.Column("download_quota_bytes", sa.BigInteger, nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
_usage = sa.Table(
    "strata_download_usage",
    _metadata,
    sa.Column("account", sa.String(160), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)


def engine_for(url: str) -> sa.Engine:
    """An SQLAlchemy engine on the catalog database ``url`` (``postgresql://`` uses psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    return sa.create_engine(url, pool_pre_ping=True)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def seconds_to_midnight(now: datetime | None = None) -> float:
    """Seconds until the next UTC midnight, when daily download quotas reset."""
    now = now or datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


@dataclass(frozen=True, slots=True)
class User:
    """An API user."""

    name: str
    role: str
    """``user`` or ``admin`` (admins may run transactions and read every collection)."""
    collections: frozenset[str] = frozenset()
    """Private collections this user may read besides the public ones."""
    rate_limit_per_second: float | None = None
    """Own sustained request rate; ``None`` uses the installation default."""
    download_quota_bytes: int | None = None
    """Own daily download quota; ``None`` uses the installation default."""
    created: datetime | None = None
    revoked: bool = False

    @property
    def is_admin(self) -> bool:
        """Whether the user has the admin role."""
        return self.role == "admin"

    def can_read(self, collection_id: str, public: bool) -> bool:
        """Whether the user may see the collection ``collection_id`` (``public`` says if it is)."""
        return public or self.is_admin or collection_id in self.collections


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(
        name=m["name"],
        role=m["role"],
        collections=frozenset(json.loads(m["collections"] or "[]")),
        rate_limit_per_second=m["rate_limit_per_second"],
        download_quota_bytes=m["download_quota_bytes"],
        created=m["created"],
        revoked=bool(m["revoked"]),
    )


class UserStore:
    """Users and download accounting in the catalog database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)

    def add(
        self,
        name: str,
        role: str = "user",
        collections: tuple[str, ...] = (),
        rate_limit_per_second: float | None = None,
        download_quota_bytes: int | None = None,
    ) -> tuple[User, str]:
        """Create a user and return it with its API key (the only time the key is visible).

        Raises
        ------
        InputError
            If the name is taken or empty, or the role unknown.
        """
        if not name.strip():
            raise InputError("user name: must not be empty")
        if role not in ROLES:
            raise InputError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        key = "strata_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(_users.c.name).where(_users.c.name == name)).first():
                raise InputError(f"user name: {name!r} exists already")
            conn.execute(
                _users.insert().values(
                    name=name,
                    key_hash=_hash(key),
                    role=role,
                    collections=json.dumps(sorted(collections)),
                    rate_limit_per_second=rate_limit_per_second,
                    download_quota_bytes=download_quota_bytes,
                    created=datetime.now(UTC),
                    revoked=False,
                )
            )
        return self.get(name), key

    def get(self, name: str) -> User:
        """The user called ``name``.

        Raises
        ------
        NotFoundError
            If there is no such user.
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_users).where(_users.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no user {name!r}")
        return _user(row)

    def list(self) -> list[User]:
        """Every user, revoked ones included, by name."""
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(sa.select(_users).order_by(_users.c.name))]

    def revoke(self, name: str) -> User:
        """Revoke a user's key: requests with it are refused from now on.

        Raises
        ------
        NotFoundError
            If there is no such user.
        """
        with self.engine.begin() as conn:
            done = conn.execute(_users.update().where(_users.c.name == name).values(revoked=True))
        if not done.rowcount:
            raise NotFoundError(f"no user {name!r}")
        return self.get(name)

    def authenticate(self, key: str) -> User | None:
        """The active user owning API key ``key``, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_users).where(_users.c.key_hash == _hash(key), _users.c.revoked.is_(False))
            ).first()
        return None if row is None else _user(row)

    def downloaded_today(self, account: str) -> int:
        """Bytes ``account`` has downloaded since the last UTC midnight."""
        with self.engine.connect() as conn:
            used = conn.execute(
                sa.select(_usage.c.bytes).where(_usage.c.account == account, _usage.c.day == _today())
            ).scalar()
        return int(used or 0)

    def charge_download(self, account: str, size: int, quota: int) -> None:
        """Count ``size`` bytes against ``account``'s daily ``quota``.

        Raises
        ------
        RateLimitError
            If the bytes would exceed the quota (nothing is counted then); it retries after midnight UTC.
        """
        try:
            self._charge(account, size, quota)
        except sa.exc.IntegrityError:  # a concurrent first download of the day inserted the row
            self._charge(account, size, quota)

    def _charge(self, account: str, size: int, quota: int) -> None:
        day = _today()
        with self.engine.begin() as conn:
            used = conn.execute(
                sa.select(_usage.c.bytes).where(_usage.c.account == account, _usage.c.day == day)
            ).scalar()
            if (used or 0) + size > quota:
                raise RateLimitError(
                    f"download quota exhausted: {used or 0} of {quota} bytes used today, "
                    f"this download needs {size}",
                    retry_after=seconds_to_midnight(),
                )
            if used is None:
                conn.execute(_usage.insert().values(account=account, day=day, bytes=size))
            else:
                conn.execute(
                    _usage.update()
                    .where(_usage.c.account == account, _usage.c.day == day)
                    .values(bytes=_usage.c.bytes + size)
                )


def _today() -> str:
    return datetime.now(UTC).date().isoformat()
