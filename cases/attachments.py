"""Photos (照片) stored content-addressed: CIVICGRID_DATA_DIR/attachments/ab/<sha256>, with the type
taken from the content (JPEG, PNG, WebP magic bytes) — never from the file name — and at most 10 MB."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from civicgrid.errors import InvalidInput, NotFound, PayloadTooLarge
from civicgrid.settings import get_settings

MAX_BYTES = 10 * 1024 * 1024
HEX = frozenset("0123456789abcdef")


def is_sha256(text: str) -> bool:
    """A sha256 hex digest in lower case: how photos are named (and nothing else can be a path)."""
    return isinstance(text, str) and len(text) == 64 and HEX.issuperset(text)


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def root() -> Path:
    return get_settings().data_dir / "attachments"


def path_of(sha: str) -> Path:
    return root() / sha[:2] / sha


def save(content: bytes, field: str = "photos") -> tuple[str, str, int]:
    """Store bytes; returns (sha256, media type, size). Same bytes → same file, written once."""
    if len(content) > MAX_BYTES:
        raise PayloadTooLarge(f"a photo is at most 10 MB; got {len(content) / 1048576:.1f} MB", field=field)
    if not content:
        raise InvalidInput("empty file", field=field)
    media_type = sniff(content[:16])
    if media_type is None:
        raise InvalidInput("not a JPEG, PNG or WebP image (checked by content)", field=field)
    sha = hashlib.sha256(content).hexdigest()
    target = path_of(sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(content)
        os.replace(tmp, target)  # atomic: a reader never sees half a photo
    return sha, media_type, len(content)


def register(conn, sha: str, media_type: str, size: int, actor: str) -> None:
    conn.execute("INSERT INTO attachment (sha256, media_type, size_bytes, created_by) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT DO NOTHING", [sha, media_type, size, actor])


def check_known(conn, shas: list[str], field: str) -> None:
    if not shas:
        return
    known = {r["sha256"] for r in conn.execute("SELECT sha256 FROM attachment WHERE sha256 = ANY(%s)", [shas])}
    missing = [s for s in shas if s not in known]
    if missing:
        raise InvalidInput(f"unknown attachment {missing[0]}: upload it to /api/attachments first", field=field)


def read(conn, sha: str) -> tuple[bytes, str]:
    row = conn.execute("SELECT media_type FROM attachment WHERE sha256 = %s", [sha]).fetchone()
    if row is None or not path_of(sha).exists():
        raise NotFound(f"attachment {sha} not found", field="sha256")
    return path_of(sha).read_bytes(), row["media_type"]
