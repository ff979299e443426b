"""Reading what a user hands over, with a bound: a device such as /dev/zero, or a file far bigger than what it
claims to be, is refused instead of read until memory runs out."""

from __future__ import annotations

from pathlib import Path

#: A config is a few KB; anything above this is not one.
MAX_CONFIG_BYTES = 1_000_000


def read_bounded(path: Path, limit: int) -> bytes | None:
    """Return the file's bytes, or None when it holds more than ``limit`` of them (only ``limit`` + 1 are read)."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    return None if len(data) > limit else data
