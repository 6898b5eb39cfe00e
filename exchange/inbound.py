"""Messages from the district platform (区平台下发): 督办, 退回, closure confirmation (结案确认) and
回访 results, each landing as an event on the case (case_event, the case's version moves on), once
per message id — the same message sent again gets the same answer and changes nothing.

They are recorded, not run through the workflow's transitions: the district instructs a case in any
state, closed ones included (a confirmation or a 回访 comes after closure), and the town's workflow
decides what its own people do next. A 督办 also counts on the case (`supervise_count`), as the
leaders' 督办 does.
"""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Annotated, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from civicgrid.cases import engine
from civicgrid.cases.roles import Actor
from civicgrid.errors import Conflict, NotFound
from civicgrid.inputs import parse_model

# message type → the case event's action (names shown in timelines)
ACTIONS = {"supervise": "district_supervise", "return": "district_return",
           "closure_confirmed": "district_confirm", "visit_result": "district_visit"}


class InboundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")]
    type: Literal["supervise", "return", "closure_confirmed", "visit_result"]
    case_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{21,}$")] | None = None
    external_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = None
    comment: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_case(self):
        if (self.case_number is None) == (self.external_id is None):
            raise ValueError("name the case by case_number or by external_id (one of them)")
        if self.type in ("supervise", "return") and not self.comment:
            raise ValueError(f"a {self.type} message needs a comment")
        if self.type == "visit_result" and self.data.get("satisfaction") not in ("satisfied", "basic", "dissatisfied"):
            raise ValueError("a visit_result needs data.satisfaction: satisfied, basic or dissatisfied")
        return self


def parse(payload: dict) -> InboundIn:
    return parse_model(InboundIn, payload)


def _answer(row: dict, duplicate: bool) -> dict:
    return {"message_id": row["message_id"], "type": row["kind"], "case_id": row["case_id"],
            "case_number": row["case_number"], "event_seq": row["event_seq"], "duplicate": duplicate}


def receive(conn, msg: InboundIn, actor: Actor) -> dict:
    """Record one message inside the caller's transaction; returns the answer (the same one again for a repeat)."""
    seen = conn.execute("SELECT i.*, c.case_number FROM district_inbound i LEFT JOIN cases c ON c.id = i.case_id "
                        "WHERE message_id = %s", [msg.message_id]).fetchone()
    if seen is not None:
        if seen["kind"] != msg.type:
            raise Conflict(f"message {msg.message_id} was received before as a {seen['kind']}", field="message_id")
        return _answer(seen, True)
    if msg.case_number:
        case = conn.execute("SELECT * FROM cases WHERE case_number = %s FOR UPDATE", [msg.case_number]).fetchone()
    else:
        case = conn.execute("SELECT * FROM cases WHERE channel = 'district' AND external_id = %s FOR UPDATE",
                            [msg.external_id]).fetchone()
    field = "case_number" if msg.case_number else "external_id"
    if case is None:
        raise NotFound(f"no case {msg.case_number or msg.external_id}", field=field)
    # the district speaks about cases it knows: those it pushed and those reported to it
    if case["channel"] != "district" and not conn.execute(
            "SELECT 1 FROM district_outbox WHERE case_id = %s LIMIT 1", [case["id"]]).fetchone():
        raise NotFound(f"case {case['case_number']} was never reported to the district", field=field)
    changes = {"supervise_count": (case["supervise_count"] or 0) + 1} if msg.type == "supervise" else {}
    body = engine.ActionIn(version=case["version"], comment=msg.comment,
                           data={**msg.data, "message_id": msg.message_id})
    transition = SimpleNamespace(action=ACTIONS[msg.type], target=None)
    row = engine.write(conn, case, transition, body, actor, changes, datetime.now(timezone.utc), auto=False)
    stored = conn.execute(
        "INSERT INTO district_inbound (message_id, kind, case_id, event_seq, body) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (message_id) DO NOTHING RETURNING *",
        [msg.message_id, msg.type, case["id"], row["version"], Jsonb(msg.model_dump())]).fetchone()
    if stored is None:   # the same message raced in on another connection: let its answer stand
        raise Conflict(f"message {msg.message_id} is being received meanwhile; send it again", field="message_id")
    return _answer({**stored, "case_number": case["case_number"]}, False)

