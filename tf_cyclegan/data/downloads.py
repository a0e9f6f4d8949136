"""Downloads that fail fast offline: TFDS and urllib retry or wait for minutes when the host cannot be
reached, so its reachability is looked at first, in seconds."""

from __future__ import annotations

import socket
import urllib.parse


def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why the host of url cannot be reached (None when it can, or when url is not http(s))."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):  # a file:// mirror, say
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = parts.hostname if parts.port is None else f"{parts.hostname}:{port}"
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return None
    except OSError as e:
        return f"{where} is unreachable: {e.strerror or e}"
