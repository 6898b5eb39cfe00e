"""geoserver-rest's `Geoserver` with our error handling: every failure becomes one `GeoServerError`
line naming the reason (unreachable, refused credentials, GeoServer's own error), with the secrets
scrubbed from anything GeoServer or the library echoes back.

What geoserver-rest (2.10) does not cover — reading a feature type's title and CRS, creating a feature
type with a native name and a declared CRS, replacing a style's SLD — goes through the library's own
authenticated request (`Geoserver._requests`) to the REST paths GeoServer documents for it.
"""
from __future__ import annotations

from urllib.parse import quote

import requests
from geo.Geoserver import Geoserver, GeoserverException

from civicgrid.errors import CivicgridError


class GeoServerError(CivicgridError):
    """GeoServer could not be reached or refused what we asked (CLI: one line, exit 1)."""

    status = 502
    code = "BadGateway"


def _reason(status: int | None, content) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    if line.startswith("<") or len(line) > 160:      # an HTML error page or a stack trace: the status says it
        line = line[:160] if not line.startswith("<") else ""
    return line


class Client:
    def __init__(self, url: str, user: str, password: str, *, timeout: float, secrets: tuple[str, ...] = ()):
        self.url = url.rstrip("/")
        self.user = user
        self.gs = Geoserver(self.url, username=user, password=password, request_options={"timeout": timeout})
        self.secrets = tuple(s for s in (password, *secrets) if s)

    # ------------------------------------------------------------------ errors

    def scrub(self, text: str) -> str:
        from xml.sax.saxutils import escape
        for secret in self.secrets:
            for form in {secret, escape(secret), quote(secret, safe="")}:
                text = text.replace(form, "***")
        return text

    def fail(self, what: str, status: int | None, content) -> GeoServerError:
        if status == 401:
            msg = f"GeoServer at {self.url} refused the credentials of user {self.user!r} (401) while {what}"
        elif status == 403:
            msg = f"GeoServer at {self.url} does not let user {self.user!r} do this (403) while {what}"
        else:
            reason = _reason(status, content)
            msg = f"GeoServer at {self.url} answered {status} while {what}" + (f": {reason}" if reason else "")
        return GeoServerError(self.scrub(msg))

    def call(self, what: str, fn, *args, missing_ok: bool = False, **kwargs):
        """Run one library call; None when `missing_ok` and GeoServer says 404."""
        try:
            return fn(*args, **kwargs)
        except GeoserverException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise self.fail(what, exc.status, exc.message) from None
        except requests.Timeout:
            raise GeoServerError(f"GeoServer at {self.url} did not answer in time while {what}") from None
        except requests.ConnectionError:
            raise GeoServerError(f"GeoServer at {self.url} is unreachable (connection failed) while {what}") from None
        except requests.RequestException as exc:
            raise GeoServerError(self.scrub(f"GeoServer at {self.url}: {type(exc).__name__} while {what}")) from None
        except (ValueError, KeyError, TypeError) as exc:   # an answer that is not what GeoServer sends
            raise GeoServerError(self.scrub(f"GeoServer at {self.url} sent an unexpected answer while {what}: "
                                            f"{type(exc).__name__}")) from None
        except Exception as exc:  # noqa: BLE001 — geoserver-rest raises bare Exception for its own checks
            raise GeoServerError(self.scrub(f"geoserver-rest refused while {what}: {exc}")) from None

    # ------------------------------------------------------------------ raw REST through the library

    def _raw(self, method: str, path: str, *, ok: tuple[int, ...], body: str | None = None,
             content_type: str = "text/xml", accept: str = "application/json", missing_ok: bool = False):
        def run():
            headers = {"Accept": accept}
            if body is not None:
                headers["Content-Type"] = content_type
            r = self.gs._requests(method, f"{self.url}/rest/{path}", headers=headers,
                                  **({"data": body.encode("utf-8")} if body is not None else {}))
            if r.status_code == 404 and missing_ok:
                return None
            if r.status_code not in ok:
                raise GeoserverException(r.status_code, r.content)
            return r
        return self.call(f"{method.upper()} /rest/{path}", run)

    def get_json(self, path: str, what: str):
        r = self._raw("get", path, ok=(200,), missing_ok=True)
        if r is None:
            return None
        return self.call(what, r.json)

    def get_text(self, path: str, accept: str):
        r = self._raw("get", path, ok=(200,), accept=accept, missing_ok=True)
        return None if r is None else r.content

    def post(self, path: str, body: str, content_type: str = "text/xml"):
        self._raw("post", path, ok=(200, 201), body=body, content_type=content_type)

    def put(self, path: str, body: str, content_type: str = "text/xml"):
        self._raw("put", path, ok=(200, 201), body=body, content_type=content_type)
