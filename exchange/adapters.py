"""Where outbox rows go: an adapter per district interface, chosen by CIVICGRID_DISTRICT_ADAPTER.

- `json`     (default) JSON over HTTPS: one POST per event to CIVICGRID_DISTRICT_URL, the body built
             from a mapping file (mappings/default.yml), headers `Idempotency-Key`,
             `X-Civicgrid-Timestamp` and `X-Civicgrid-Signature: sha256=<hex HMAC-SHA256 of
             "<timestamp>.<body>" with CIVICGRID_DISTRICT_SECRET>`, and `Authorization: Bearer
             <CIVICGRID_DISTRICT_API_KEY>` when a key is set.
- `open311`  Open311 GeoReport v2: a reported case is `POST {url}/requests.json` (form fields, with
             `api_key` and `jurisdiction_id`); later events are `POST {url}/servicerequestupdates.json`
             (mySociety's update extension) naming the district's service_request_id.

What an answer means (both adapters): 2xx delivered; 409 the district already has this idempotency
key (a re-send after a crash) — delivered; 408, 425, 429, 5xx, timeouts and connection errors are
retried with backoff; any other 4xx is the message itself being wrong, so it goes to the dead letters
at once (fix the mapping, then re-send).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import yaml

from civicgrid.errors import SetupError

RETRYABLE = {408, 425, 429}
MAPPINGS = Path(__file__).resolve().parent / "mappings"


@dataclass
class Outcome:
    ok: bool
    retry: bool = False
    error: str | None = None
    response: Any = None


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        else:
            return None
    return doc


def _value(doc: dict, spec: Any) -> Any:
    if isinstance(spec, str):
        return _get(doc, spec)
    if "const" in spec:
        return spec["const"]
    value = _get(doc, spec["from"])
    if "map" in spec:
        return spec["map"].get(value, spec.get("default", value))
    return value


def apply_mapping(fields: dict, doc: dict, nested: bool = True) -> dict:
    """The district's document: each target path gets its value from the outbox row."""
    out: dict = {}
    for target, spec in fields.items():
        value = _value(doc, spec)
        if not nested:
            out[target] = value
            continue
        node = out
        *parents, leaf = target.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def load_mapping(path: Path) -> dict:
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SetupError(f"CIVICGRID_DISTRICT_MAPPING: cannot read {path}: {exc}") from None
    if not isinstance(mapping, dict) or mapping.get("format") not in ("json", "open311"):
        raise SetupError(f"CIVICGRID_DISTRICT_MAPPING: {path} needs `format: json` or `format: open311`")
    return mapping


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _outcome(r: httpx.Response) -> Outcome:
    text = r.text[:300]
    if 200 <= r.status_code < 300 or r.status_code == 409:
        try:
            body = r.json() if r.content else None
        except ValueError:
            body = None
        return Outcome(True, response=body)
    retry = r.status_code >= 500 or r.status_code in RETRYABLE
    return Outcome(False, retry=retry, error=f"HTTP {r.status_code}: {text}")


def _transport_error(exc: Exception) -> Outcome:
    return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}"[:300])


class JsonAdapter:
    name = "json"

    def __init__(self, url: str, mapping: dict, secret: str | None, api_key: str | None, timeout: float):
        self.url, self.fields, self.secret, self.api_key = url, mapping["fields"], secret, api_key
        self.client = httpx.Client(timeout=timeout)

    def document(self, row: dict) -> dict:
        return apply_mapping(self.fields, row)

    def deliver(self, row: dict, context: dict) -> Outcome:
        body = json.dumps(self.document(row), ensure_ascii=False, default=str, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": row["idempotency_key"],
                   "X-Civicgrid-Timestamp": stamp}
        if self.secret:
            headers["X-Civicgrid-Signature"] = sign(self.secret, stamp, body)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            return _outcome(self.client.post(self.url, content=body, headers=headers))
        except httpx.HTTPError as exc:
            return _transport_error(exc)

    def close(self) -> None:
        self.client.close()


class Open311Adapter:
    name = "open311"

    def __init__(self, url: str, mapping: dict, api_key: str | None, jurisdiction: str | None, timeout: float):
        self.url, self.mapping, self.api_key, self.jurisdiction = url.rstrip("/"), mapping, api_key, jurisdiction
        self.client = httpx.Client(timeout=timeout)

    def _form(self, fields: dict, row: dict) -> dict:
        form = {k: v for k, v in apply_mapping(fields, row, nested=False).items() if v is not None}
        form = {k: (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in form.items()}
        if self.api_key:
            form["api_key"] = self.api_key
        if self.jurisdiction:
            form["jurisdiction_id"] = self.jurisdiction
        return form

    def deliver(self, row: dict, context: dict) -> Outcome:
        try:
            if row["kind"] == "case.reported":
                r = self.client.post(f"{self.url}/requests.json", data=self._form(self.mapping["request"], row),
                                     headers={"Idempotency-Key": row["idempotency_key"]})
                out = _outcome(r)
                if out.ok and isinstance(out.response, list) and out.response:
                    out.response = {"service_request_id": out.response[0].get("service_request_id")}
                return out
            remote = context.get("service_request_id")
            if not remote:
                return Outcome(False, retry=False, error="the district returned no service_request_id for this case")
            form = self._form(self.mapping["update"], row)
            form["service_request_id"] = str(remote)
            r = self.client.post(f"{self.url}/servicerequestupdates.json", data=form,
                                 headers={"Idempotency-Key": row["idempotency_key"]})
            return _outcome(r)
        except httpx.HTTPError as exc:
            return _transport_error(exc)

    def close(self) -> None:
        self.client.close()


def from_settings(settings):
    """The configured adapter, or None when no district URL is set (events then wait in the outbox)."""
    if not settings.district_url:
        return None
    default = "open311.yml" if settings.district_adapter == "open311" else "default.yml"
    mapping = load_mapping(settings.district_mapping or MAPPINGS / default)
    secret = settings.district_secret.get_secret_value() if settings.district_secret else None
    key = settings.district_api_key.get_secret_value() if settings.district_api_key else None
    if settings.district_adapter == "open311":
        return Open311Adapter(settings.district_url, mapping, key, settings.district_jurisdiction,
                              settings.district_timeout)
    return JsonAdapter(settings.district_url, mapping, secret, key, settings.district_timeout)


def now() -> datetime:
    return datetime.now(timezone.utc)
