"""Row-level visibility (行级可见性): hand a request's transaction over to PostgreSQL's policies.

`enter(conn, principal)` calls `security_enter(user_id)` (db/migrations/0610_row_security.sql):
inside the caller's open transaction it records who asks (civicgrid.user_id, .roles, .department,
.officer_id, .actor — all transaction-local) and switches to the role `civicgrid_web`, whose
row-level security policies then decide which cases, case rows and officer positions the
remaining statements of the transaction see. Commit or rollback ends all of it, so a pooled
connection goes back to the owner role for the next request.

- SYSTEM (CLI, workers, tests off-request) → nothing happens: the owner sees every row.
- the anonymous principal → role `public`: no case rows at all (the public reads case_public /
  ogc_cases). An anonymous *intake* therefore must not enter first: INSERT … RETURNING needs the
  new row to be visible to the inserter — run it on the owner connection as today.
- a disabled or unknown user → psycopg.errors.InsufficientPrivilege (the transaction is aborted).
"""
from __future__ import annotations

from psycopg.pq import TransactionStatus

from civicgrid.security.principal import Principal


def enter(conn, principal: Principal) -> None:
    """Act as `principal` for the rest of the current transaction (which must be open)."""
    if principal.is_system:
        return
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        # in autocommit the settings would last this one statement and protect nothing after it
        raise RuntimeError("security.rows.enter needs an open transaction (use conn.transaction())")
    user_id = None if principal.is_anonymous else principal.user_id
    conn.execute("SELECT security_enter(%s)", [user_id])


async def enter_async(conn, principal: Principal) -> None:
    """`enter` on an async connection (the OGC API Features routes)."""
    if principal.is_system:
        return
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise RuntimeError("security.rows.enter_async needs an open transaction (use conn.transaction())")
    user_id = None if principal.is_anonymous else principal.user_id
    await conn.execute("SELECT security_enter(%s)", [user_id])
