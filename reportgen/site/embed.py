"""A site's file as a data: URI: what the single file embeds, and the caption tracks every page carries."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

MIME = {".mp4": "video/mp4", ".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif",
        ".woff2": "font/woff2", ".json": "application/json", ".css": "text/css", ".vtt": "text/vtt"}


def data_uri(url: str, content: str | bytes | Path) -> str:
    """Return a file's content as a base64 data: URI, typed by its extension."""
    suffix = Path(url).suffix
    mime = MIME.get(suffix) or mimetypes.guess_type(url)[0] or "application/octet-stream"
    data = content.read_bytes() if isinstance(content, Path) else content
    data = data.encode("utf-8") if isinstance(data, str) else data
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
