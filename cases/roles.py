"""Role codes named by workflow transitions and intake channels, and who is acting on a request.

Until the security issue lands, a request acts as `public` unless CIVICGRID_DEV_ROLE_HEADER=1, in
which case the X-Civicgrid-Role / X-Civicgrid-User headers are trusted (development only).
"""
from __future__ import annotations

from dataclasses import dataclass

from civicgrid.errors import Forbidden, InvalidInput
from civicgrid.settings import get_settings

ROLES = {
    "intake_operator": "受理员",
    "shift_leader": "值班长",
    "dispatcher": "派遣员",
    "department_handler": "专业部门处置人员",
    "grid_officer": "网格员/监督员",
    "leader": "领导",
    "admin": "系统管理员",
    "public": "公众",
    "district_platform": "区平台",
    "system": "系统（自动）",
}
STAFF = set(ROLES) - {"public", "district_platform"}

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
    user: str
    role: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def actor_from_headers(headers) -> Actor:
    if not get_settings().dev_role_header:
        return Actor("anonymous", "public")
    role = (headers.get("x-civicgrid-role") or "public").strip()
    if role not in ROLES or role == "system":
        raise InvalidInput(f"unknown role {role!r}; one of {sorted(set(ROLES) - {'system'})}", field="X-Civicgrid-Role")
    user = (headers.get("x-civicgrid-user") or ("anonymous" if role == "public" else role)).strip()[:64]
    return Actor(user or role, role)


def require_role(actor: Actor, allowed: set[str], what: str) -> None:
    if actor.role not in allowed:
        raise Forbidden(f"{what} needs role {' or '.join(sorted(allowed))}; the request acts as {actor.role}",
                        field="role")
