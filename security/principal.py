"""Who is making the current request (主体): set once by the access layer, read by every part.

The access middleware (security/access.py) authenticates the request and stores a `Principal` in a
context variable; handlers, pygeoapi's job manager and the database helpers read it with
`current_principal()`. Context variables follow the request into `run_in_threadpool`, so sync code
sees the same principal. Outside a request (CLI, workers, tests) it is `SYSTEM`.
"""
from __future__ import annotations

import concurrent.futures
import contextvars
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    user: str                               # username; 'anonymous' for the public, 'system' off-request
    roles: frozenset[str]
    user_id: int | None = None
    department_code: str | None = None      # department handlers' department (专业部门)
    officer_id: int | None = None           # grid officers' officer row (网格员)
    officer_code: str | None = None
    via: str = "anonymous"                  # 'anonymous' | 'session' | 'key' | 'basic' | 'system'
    scopes: frozenset[str] = field(default_factory=frozenset)
    key: str | None = None                  # API key prefix when via == 'key'
    # the OGC API collections an API key is limited to (None: all its user's roles may read or write)
    collections: frozenset[str] | None = None
    csrf_token: str | None = None           # the session's CSRF token when via == 'session'

    @property
    def is_anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def is_system(self) -> bool:
        return self.via == "system"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles or self.is_system

    def has_any(self, roles) -> bool:
        return self.is_system or bool(self.roles & frozenset(roles))

    @property
    def role_label(self) -> str:
        """One string for audit rows and history: the roles, comma-separated."""
        return ",".join(sorted(self.roles))


ANONYMOUS = Principal(user="anonymous", roles=frozenset({"public"}))
SYSTEM = Principal(user="system", roles=frozenset({"system"}), via="system")

_current: ContextVar[Principal] = ContextVar("civicgrid_principal", default=SYSTEM)


def current_principal() -> Principal:
    return _current.get()


def set_principal(principal: Principal):
    """Returns the token for `reset_principal`."""
    return _current.set(principal)


def reset_principal(token) -> None:
    _current.reset(token)


class ContextExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose calls run in a copy of the caller's context (the request's principal).

    pygeoapi runs its handlers with `loop.run_in_executor(None, …)`, which, unlike Starlette's
    `run_in_threadpool`, does not copy context variables: without this the job manager and every
    other pygeoapi-side reader would see SYSTEM. `submit` is called on the event loop's thread,
    inside the request's task, so the copy taken there is the request's context."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def install_context_executor(loop) -> ContextExecutor:
    """Make `loop.run_in_executor(None, …)` carry context variables (once per event loop)."""
    executor = getattr(loop, "_civicgrid_context_executor", None)
    if executor is None:
        executor = ContextExecutor(thread_name_prefix="civicgrid-api")
        loop.set_default_executor(executor)
        loop._civicgrid_context_executor = executor
    return executor
