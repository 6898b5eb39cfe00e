"""Role codes named by workflow transitions and intake channels, and who is acting on a request.

Who may reach which route is security/access.yml's business; this module names the roles of
intake channels and turns the request's principal into the Actor the case engine records.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from civicgrid.errors import Forbidden
from civicgrid.security.policy import ROLE_CODES

# the role codes (names and descriptions are data: table app_role), plus `system` for automatic steps
ROLES = ROLE_CODES | {"system"}
STAFF = ROLES - {"public", "district_platform"}

# Who may open a case on each channel (案件来源).
INTAKE_ROLES = {
    "patrol": {"grid_officer"},
    "public": {"public", "intake_operator", "admin"},
    "hotline": {"intake_operator", "shift_leader"},
    "component": {"grid_officer", "intake_operator", "public"},
    "video": {"intake_operator", "shift_leader"},
    "district": {"district_platform", "intake_operator"},
}


@dataclass(frozen=True)
class Actor:
    """Who acts on a case. `role` is the role recorded on the event (the caller's role that the
    action needs, see `acting_as`); `roles` are all the caller's roles."""
    user: str
    role: str
    roles: frozenset[str] = frozenset()
    officer_code: str | None = None     # a grid officer's own code (网格员编号), for patrol reports

    def __post_init__(self):
        if not self.roles:
            object.__setattr__(self, "roles", frozenset({self.role}))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF)

    def acting_as(self, allowed) -> "Actor":
        """The same caller acting in the first (alphabetically) of his roles that `allowed` names."""
        mine = sorted(self.roles & set(allowed))
        return self if not mine or mine[0] == self.role else replace(self, role=mine[0])


def current_actor() -> Actor:
    """The request's caller, as authenticated by the access layer (security/access.py)."""
    from civicgrid.security.principal import current_principal

    p = current_principal()
    roles = p.roles - {"system"} if not p.is_system else frozenset({"system"})
    return Actor(p.user, sorted(roles)[0] if roles else "public", frozenset(roles), p.officer_code)


def require_role(actor: Actor, allowed: set[str], what: str) -> None:
    if not actor.roles & set(allowed):
        raise Forbidden(f"{what} needs role {' or '.join(sorted(allowed))}; the caller has {', '.join(sorted(actor.roles))}",
                        field="role")
