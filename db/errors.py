"""The one table of database errors → HTTP errors (civicgrid.errors), used by every part.

`translate(exc)` walks TABLE in order and returns the first match's error; the first matching class
wins, so narrower classes come before the classes they derive from (InsufficientPrivilege is a
SyntaxErrorOrAccessRuleViolation, PoolTimeout an OperationalError). A refusal the client caused is
a 4xx naming what the database named; an unreachable or restarting database is a 503 with
Retry-After; anything else stays a 500 whose text names the error class, never SQL or paths.
"""
from __future__ import annotations

from typing import Callable

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolClosed, PoolTimeout

from civicgrid.errors import CivicgridError, Conflict, Forbidden, InvalidInput, ServiceUnavailable

RETRY_AFTER_S = 5
_GEOMETRY_WORDS = ("transform", "geometry", "geos", "lwgeom", "coordinate", "projection")


def _reason(exc: psycopg.Error) -> str:
    diag = exc.diag
    reason = diag.message_primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if diag.message_detail and diag.message_detail not in reason:
        reason = f"{reason} ({diag.message_detail})"
    return reason


def _unavailable(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return ServiceUnavailable("the database is unavailable; try again shortly", retry_after=RETRY_AFTER_S)


def _too_long(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return ServiceUnavailable("the query took too long and was cancelled; narrow it (bbox, datetime, filter, "
                              "a smaller area) or run it as an asynchronous job", retry_after=RETRY_AFTER_S)


def _busy(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return Conflict("the record is being changed by someone else; try again", field=field or "version")


def _unique(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return Conflict(f"already exists: {_reason(exc)}", field=field or exc.diag.constraint_name)


def _foreign_key(exc: psycopg.Error, field: str | None) -> CivicgridError:
    reason = _reason(exc)
    if "still referenced" in reason:
        return Conflict(f"still in use: {reason}", field=field or exc.diag.constraint_name)
    return InvalidInput(f"refers to something that does not exist: {reason}", field=field or exc.diag.constraint_name)


def _refused(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return InvalidInput(f"refused by the database: {_reason(exc)}",
                        field=field or exc.diag.column_name or exc.diag.table_name)


def _forbidden(exc: psycopg.Error, field: str | None) -> CivicgridError:
    return Forbidden(f"not allowed: {exc.diag.message_primary or 'permission denied'}", field=field)


def _internal(exc: psycopg.Error, field: str | None) -> CivicgridError:
    first = (str(exc).strip().splitlines() or [""])[0].lower()
    if any(w in first for w in _GEOMETRY_WORDS):   # PostGIS refusing a client's geometry or box
        return InvalidInput(f"the query could not be run: {_reason(exc)}", field=field)
    return CivicgridError(f"database error: {type(exc).__name__}")


TABLE: list[tuple[type[Exception] | tuple[type[Exception], ...], Callable[[psycopg.Error, str | None], CivicgridError]]] = [
    ((PoolTimeout, PoolClosed), _unavailable),
    (pg.QueryCanceled, _too_long),
    ((pg.AdminShutdown, pg.CrashShutdown, pg.CannotConnectNow, pg.ConnectionException), _unavailable),
    ((pg.LockNotAvailable, pg.SerializationFailure, pg.DeadlockDetected), _busy),
    (pg.UniqueViolation, _unique),
    (pg.ForeignKeyViolation, _foreign_key),
    (pg.InsufficientPrivilege, _forbidden),
    ((pg.CheckViolation, pg.NotNullViolation, pg.RaiseException, pg.DataError, pg.InvalidParameterValue,
      pg.SyntaxErrorOrAccessRuleViolation), _refused),
    (pg.InternalError_, _internal),
    # no SQLSTATE: the connection itself broke (server gone, socket closed)
    ((psycopg.OperationalError, psycopg.InterfaceError), _unavailable),
]


def translate(exc: psycopg.Error, field: str | None = None) -> CivicgridError:
    """The HTTP error for a database error; `field` names the input the caller blames (e.g. `filter`)."""
    for classes, make in TABLE:
        if isinstance(exc, classes):
            return make(exc, field)
    return CivicgridError(f"database error: {type(exc).__name__}")


def is_outage(exc: BaseException) -> bool:
    """An error meaning the database cannot be reached now (not a refusal of this request)."""
    return isinstance(exc, psycopg.Error) and isinstance(translate(exc), ServiceUnavailable) \
        and not isinstance(exc, pg.QueryCanceled)
