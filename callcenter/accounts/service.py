"""Accounts: create users, check logins with lock-out, change roles and passwords.

Lock-out: ``max_failed`` wrong passwords in a row lock the account for ``lockout``; while locked
even the right password is refused, and the lock ends by itself or when an admin unlocks it.
Hashing runs in a worker thread (argon2 takes tens of milliseconds of CPU by design) so a login
never delays a screen-pop.  Changing a password or role bumps ``session_epoch``, which ends every
open session of that user.

Web sessions: the cookie is encrypted, but a copy of it would work until it idles out, so each
login also opens a ``web_sessions`` row whose random id only the cookie knows; every request needs
the row (``session_user``), logging out deletes it (``close_session``), and so does a password,
role or active change (with the epoch).  ``seen_at`` is rewritten at most every ``SESSION_TOUCH``;
rows idle longer than the idle timeout are pruned at the next login.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from collections.abc import Callable

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts.exceptions import AccountError, AccountLocked, LoginFailed
from callcenter.accounts.models import ROLES, User, WebSession
from callcenter.accounts.passwords import check_strength, hash_password, needs_rehash, verify_password
from callcenter.store.db import read_session_factory
from callcenter.store.models import utcnow

log = structlog.get_logger(__name__)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SESSION_TOUCH = dt.timedelta(minutes=5)  # a web session's seen_at is rewritten at most this often


def clean_username(raw: str) -> str:
    """The stored (lower-case) form of a user name; AccountError when it is not a valid name."""
    name = (raw or "").strip().lower()
    if not USERNAME.match(name):
        raise AccountError("account.bad_username", "a user name is 1-64 of a-z, 0-9, '.', '_' or '-'")
    return name


class AccountService:
    """Users of the web pages, in the controller's database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_failed: int = 5,
        lockout: dt.timedelta = dt.timedelta(minutes=15),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        # Every request reads its session: on SQLite that read must not queue for the write lock
        # behind a long writer (it did, and a page's request failed "database is locked").
        self._reads = read_session_factory(sessions.kw["bind"])
        self.max_failed = max_failed
        self.lockout = lockout
        self.clock = clock

    # -- reads ------------------------------------------------------------------------------

    async def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        async with self._sessions() as session:
            return await session.get(User, user_id)

    async def by_name(self, username: str) -> User | None:
        """The user with this name (case-insensitive), or None."""
        async with self._sessions() as session:
            return await session.scalar(select(User).where(User.username == (username or "").strip().lower()))

    async def list(self) -> list[User]:
        """Every user, by name."""
        async with self._sessions() as session:
            return list((await session.scalars(select(User).order_by(User.username))).all())

    async def count(self) -> int:
        """How many users exist."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    # -- writes -----------------------------------------------------------------------------

    async def create(
        self, username: str, password: str, role: str, *, display_name: str = "", agent_id: str | None = None
    ) -> User:
        """Add a user; AccountError when the name is taken, the role unknown or the password weak."""
        name = clean_username(username)
        _check_role(role)
        check_strength(password)
        encoded = await asyncio.to_thread(hash_password, password)
        async with self._sessions() as session, session.begin():
            if await session.scalar(select(User.id).where(User.username == name)) is not None:
                raise AccountError("account.exists", f"user {name!r} already exists")
            user = User(
                username=name,
                display_name=display_name.strip()[:80],
                role=role,
                agent_id=(agent_id or "").strip() or None,
                password_hash=encoded,
            )
            session.add(user)
        log.info("account.created", user=name, role=role, agent=user.agent_id)
        return user

    async def authenticate(self, username: str, password: str) -> User:
        """The user if name and password match; LoginFailed or AccountLocked otherwise."""
        name = (username or "").strip().lower()
        now = self.clock()
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.username == name))
        if user is not None and user.locked_until is not None and user.locked_until > now:
            await asyncio.to_thread(verify_password, None, password)  # same cost as any attempt
            log.warning("account.login_refused_locked", user=name)
            raise AccountLocked("account.locked", "too many failed logins: try again later", user.locked_until)
        ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if user is None or not user.active or not ok:
            if user is not None:
                await self._failed(user.id, now)
            log.warning("account.login_failed", user=name, known=user is not None)
            raise LoginFailed("account.login_failed", "wrong user name or password")
        rehash = await asyncio.to_thread(hash_password, password) if needs_rehash(user.password_hash) else None
        async with self._sessions() as session, session.begin():
            fresh = await session.get(User, user.id)
            assert fresh is not None
            fresh.failed_logins = 0
            fresh.locked_until = None
            fresh.last_login_at = now
            if rehash:
                fresh.password_hash = rehash
            user = fresh
        log.info("account.login", user=name, role=user.role)
        return user

    async def _failed(self, user_id: int, now: dt.datetime) -> None:
        async with self._sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None:
                return
            user.failed_logins += 1
            if self.max_failed and user.failed_logins >= self.max_failed:
                user.locked_until = now + self.lockout
                user.failed_logins = 0
                log.warning("account.locked", user=user.username, until=user.locked_until.isoformat())

    async def update(
        self,
        user_id: int,
        *,
        role: str | None = None,
        display_name: str | None = None,
        agent_id: str | None = None,
        active: bool | None = None,
        may_hear_recordings: bool | None = None,
    ) -> User:
        """Change a user's role, name, agent, active flag or recordings grant; a role or active change ends their sessions."""
        async with self._sessions() as session, session.begin():
            user = await _must(session, user_id)
            epoch = user.session_epoch
            if role is not None and role != user.role:
                _check_role(role)
                user.role = role
                user.session_epoch += 1
            if display_name is not None:
                user.display_name = display_name.strip()[:80]
            if agent_id is not None:
                user.agent_id = agent_id.strip() or None
            if may_hear_recordings is not None:
                user.may_hear_recordings = may_hear_recordings
            if active is not None and active != user.active:
                user.active = active
                user.session_epoch += 1
            if user.session_epoch != epoch:
                await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        log.info("account.updated", user=user.username, role=user.role, agent=user.agent_id, active=user.active,
                 may_hear_recordings=user.may_hear_recordings)
        return user

    async def set_password(self, user_id: int, password: str) -> None:
        """Replace the password and end every session of the user."""
        check_strength(password)
        encoded = await asyncio.to_thread(hash_password, password)
        async with self._sessions() as session, session.begin():
            user = await _must(session, user_id)
            user.password_hash = encoded
            user.session_epoch += 1
            user.failed_logins, user.locked_until = 0, None
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        log.info("account.password_set", user=user.username)

    async def unlock(self, user_id: int) -> None:
        """End a lock-out now."""
        async with self._sessions() as session, session.begin():
            user = await _must(session, user_id)
            user.failed_logins, user.locked_until = 0, None
        log.info("account.unlocked", user=user.username)

    # -- web sessions -------------------------------------------------------------------------

    async def open_session(self, user_id: int, *, idle: dt.timedelta) -> str:
        """A new server-side web session of the user; its id goes into the cookie.  Idle ones are pruned."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        async with self._sessions() as session, session.begin():
            await session.execute(delete(WebSession).where(WebSession.seen_at < now - idle - SESSION_TOUCH))
            session.add(WebSession(id=sid, user_id=user_id, created_at=now, seen_at=now))
        return sid

    async def session_user(self, sid: str) -> User | None:
        """The user of an open web session (None once it was closed); keeps its ``seen_at`` fresh."""
        now = self.clock()
        query = select(User, WebSession.seen_at).join(WebSession, WebSession.user_id == User.id).where(WebSession.id == sid)
        async with self._reads() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return None
        user, seen = row
        if now - seen > SESSION_TOUCH:
            async with self._sessions() as session, session.begin():
                await session.execute(update(WebSession).where(WebSession.id == sid).values(seen_at=now))
        return user

    async def close_session(self, sid: str) -> None:
        """End one web session (logout): its cookie no longer works, wherever a copy of it is."""
        async with self._sessions() as session, session.begin():
            await session.execute(delete(WebSession).where(WebSession.id == sid))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError("account.bad_role", f"role must be one of {', '.join(ROLES)}")


async def _must(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError("account.unknown", f"no user with id {user_id}")
    return user
