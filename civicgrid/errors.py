"""Errors that carry their HTTP status (and a CLI exit code), mapped to responses in one place."""
from __future__ import annotations


class CivicgridError(Exception):
    """Base of every error civicgrid raises on purpose. `field` names the offending input."""

    status = 500
    code = "ServerError"

    def __init__(self, message: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}

    def to_json(self) -> dict:
        # `type` repeats the code: OGC API - Processes' exception schema (RFC 7807) requires it, and
        # pygeoapi's own errors carry it too, so /ogc answers one shape whoever raised the error
        body = {"code": self.code, "type": self.code, "description": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(CivicgridError):
    status = 400
    code = "InvalidParameterValue"


class NotFound(CivicgridError):
    status = 404
    code = "NotFound"


class Conflict(CivicgridError):
    status = 409
    code = "Conflict"


class PreconditionFailed(CivicgridError):
    status = 412
    code = "PreconditionFailed"


class PreconditionRequired(CivicgridError):
    status = 428
    code = "PreconditionRequired"


class Forbidden(CivicgridError):
    status = 403
    code = "Forbidden"


class SetupError(CivicgridError):
    """The machine or the database is not in a state we can work with (CLI: one line, exit 1)."""

    status = 503
    code = "SetupError"


class Unauthorized(CivicgridError):
    """No or bad credentials (the caller may log in and try again)."""

    status = 401
    code = "Unauthorized"


class PayloadTooLarge(CivicgridError):
    status = 413
    code = "PayloadTooLarge"


class TooManyRequests(CivicgridError):
    status = 429
    code = "TooManyRequests"


class Gone(CivicgridError):
    """What was asked for is no longer kept (a feed's `since` before its pruning horizon)."""

    status = 410
    code = "Gone"

    def __init__(self, message: str, *, field: str | None = None, **facts: str):
        super().__init__(message, field=field)
        self.facts = facts      # more members of the body (the feed's `horizon`)

    def to_json(self) -> dict:
        return {**super().to_json(), **self.facts}


class MethodNotAllowed(CivicgridError):
    """The resource exists but not for this method; `allow` lists the methods it takes."""

    status = 405
    code = "MethodNotAllowed"

    def __init__(self, message: str, *, allow: str, field: str | None = None):
        super().__init__(message, field=field, headers={"Allow": allow})


class UnsupportedMediaType(CivicgridError):
    status = 415
    code = "UnsupportedMediaType"


class ServiceUnavailable(CivicgridError):
    """Not the client's fault and not for long (the database is down, a query ran out of time):
    the client may try again after `Retry-After` seconds."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self, message: str, *, retry_after: int = 5, field: str | None = None):
        super().__init__(message, field=field, headers={"Retry-After": str(retry_after)})
