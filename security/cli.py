"""`civicgrid user …` and `civicgrid key …`: manage identities from the command line.

Secrets (generated passwords, API keys) are printed once and never stored in clear.
Every change is written to audit_log as actor `cli` with role `admin`.
"""
from __future__ import annotations

import sys

import click

from civicgrid.clibase import Group
from civicgrid.errors import InvalidInput


def _tx():
    from civicgrid.db import transaction

    return transaction(actor="cli")


def _new_password(from_stdin: bool) -> tuple[str, bool]:
    """(password, whether it was generated here and must be shown once)."""
    from civicgrid.security.identity import generate_password

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


@click.group(cls=Group)
def user():
    """Users (用户) and their roles."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="role code; repeat for several")
@click.option("--department", help="department code (统一社会信用代码); required for department_handler")
@click.option("--officer", help="officer code; required for grid_officer")
@click.option("--display-name", default="", help="name shown in the UI")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
@click.option("--no-password", is_flag=True, help="no password login (API keys only, e.g. district_platform)")
def user_add(username, roles, department, officer, display_name, password_stdin, no_password):
    """Add USERNAME; without --password-stdin a password is generated and printed once."""
    from civicgrid.security.identity import add_user

    if password_stdin and no_password:
        raise InvalidInput("give either --password-stdin or --no-password", field="password")
    password, generated = (None, False) if no_password else _new_password(password_stdin)
    with _tx() as conn:
        created = add_user(conn, username, roles, password=password, display_name=display_name,
                           department=department, officer=officer)
    click.echo(f"user {created['username']} added with role(s) {', '.join(created['roles'])}")
    if generated:
        click.echo(f"password (shown once, change it): {password}")


@user.command("role")
@click.argument("username")
@click.option("--add", "add", multiple=True, help="role to add; repeatable")
@click.option("--remove", "remove", multiple=True, help="role to remove; repeatable")
def user_role(username, add, remove):
    """Add and remove roles of USERNAME."""
    from civicgrid.security.identity import set_roles

    with _tx() as conn:
        roles = set_roles(conn, username, add=add, remove=remove)
    click.echo(f"user {username}: {', '.join(roles) or 'no roles'}")


@user.command("disable")
@click.argument("username")
def user_disable(username):
    """Disable USERNAME (no login; his API keys stop working)."""
    from civicgrid.security.identity import disable_user

    with _tx() as conn:
        changed = disable_user(conn, username)
    click.echo(f"user {username} {'disabled' if changed else 'was already disabled'}")


@user.command("enable")
@click.argument("username")
def user_enable(username):
    """Enable USERNAME again after `user disable` (login and his keys work again; a lock-out is lifted)."""
    from civicgrid.security.identity import enable_user

    with _tx() as conn:
        changed = enable_user(conn, username)
    click.echo(f"user {username} {'enabled' if changed else 'was not disabled'}")


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the new password from the first line of stdin")
def user_password(username, password_stdin):
    """Set a new password for USERNAME (generated and printed once unless --password-stdin); lifts a lock-out."""
    from civicgrid.security.identity import set_password

    password, generated = _new_password(password_stdin)
    with _tx() as conn:
        set_password(conn, username, password)
    click.echo(f"password of {username} changed; open sessions ended")
    if generated:
        click.echo(f"password (shown once): {password}")


@user.command("list")
def user_list():
    """List users, their roles and bindings."""
    from civicgrid.security.identity import list_users

    with _tx() as conn:
        rows = list_users(conn)
    click.echo(f"{'username':<28} {'roles':<36} {'department':<20} {'officer':<10} state")
    for r in rows:
        state = "disabled" if r["disabled"] else ("locked" if r["locked_until"] else "active")
        click.echo(f"{r['username']:<28} {','.join(r['roles']):<36} {r['department_code'] or '-':<20} "
                   f"{r['officer_code'] or '-':<10} {state}")


@user.command("demo")
def user_demo():
    """Create a demo admin and one demo user per role; print new credentials once (idempotent)."""
    from civicgrid.security.identity import demo_users

    with _tx() as conn:
        results = demo_users(conn)
    click.echo("demo users — passwords are shown only now; change them (civicgrid user password NAME) "
               "or disable them before real use")
    for r in results:
        click.echo(f"{r['username']:<28} {r['role']:<20} {r['password'] or '-':<20} {r['status']}")


@click.group(cls=Group)
def key():
    """API keys (bearer tokens for machines, e.g. the district platform 区平台)."""


@key.command("create")
@click.argument("username")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="read (GET) or write (every method); repeat for both")
@click.option("--days", type=int, default=90, show_default=True, help="days until the key expires")
@click.option("--collections", help="only these OGC API collections, comma-separated (default: every one "
                                    "the user may read), e.g. unit-grids,pois")
def key_create(username, scopes, days, collections):
    """Create a key for USERNAME and print it once."""
    from civicgrid.security.identity import create_key

    with _tx() as conn:
        created = create_key(conn, username, scopes, days,
                             collections=collections.split(",") if collections is not None else None)
    limited = f", collections {', '.join(created['collections'])}" if created["collections"] else ""
    click.echo(f"key {created['prefix']} for {username}, scopes {', '.join(created['scopes'])}{limited}, "
               f"expires {created['expires_at']:%Y-%m-%d %H:%M %Z}")
    click.echo(f"token (shown once): {created['token']}")


@key.command("revoke")
@click.argument("prefix")
def key_revoke(prefix):
    """Revoke the key whose prefix is PREFIX."""
    from civicgrid.security.identity import revoke_key

    with _tx() as conn:
        changed = revoke_key(conn, prefix)
    click.echo(f"key {prefix} {'revoked' if changed else 'was already revoked'}")


@key.command("list")
@click.option("--user", "username", help="only this user's keys")
def key_list(username):
    """List keys (prefixes only; secrets are never stored)."""
    from civicgrid.security.identity import list_keys

    with _tx() as conn:
        rows = list_keys(conn, username)
    click.echo(f"{'prefix':<9} {'user':<28} {'scopes':<30} {'expires':<17} {'last used':<17} {'status':<14} collections")
    for r in rows:
        last = f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "-"
        click.echo(f"{r['prefix']:<9} {r['username']:<28} {','.join(r['scopes']):<30} "
                   f"{r['expires_at']:%Y-%m-%d %H:%M} {last:<17} {r['status']:<14} {','.join(r['collections'] or ['(all)'])}")
