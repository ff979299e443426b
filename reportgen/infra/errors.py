"""Errors that end a build with a clean message instead of a traceback."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator


class ReportgenError(Exception):
    """Base class: an error the CLI prints as one line per problem."""

    exit_code = 1

    def __init__(self, *problems: str) -> None:
        self.problems = [p for p in problems if p]
        super().__init__("\n".join(self.problems))


class ConfigError(ReportgenError):
    """The config (file, keys or values) or the command line is unusable."""

    exit_code = 2


class BuildAbort(ReportgenError):
    """A build stage failed for a reason the user can act on."""

    exit_code = 1


class WriteError(BuildAbort):
    """A file could not be written (a full disk, a lost permission): the build stopped, its output left as it was."""


@contextmanager
def disk_errors() -> Iterator[None]:
    """Turn an OSError into a :class:`WriteError` of one line naming its path (the traceback stays chained)."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # Without a file name the error may concern any file of the build, not the output: name none.
        raise WriteError(f"{exc.filename}: {reason}" if exc.filename else f"a file operation failed: {reason}") from exc


class BuildInterrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) arrived: unwind, clean up the staging folder, keep the old site."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signal that asked the build to stop, once one has (inside :func:`stop_on_signals`).
_received: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM raise :class:`BuildInterrupted` and are remembered; the old handlers come back after."""
    global _received
    _received = None
    previous = {signum: signal.signal(signum, _on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received = None  # later work in this process (a test's) is not interrupted


def _on_signal(signum: int, frame: object) -> None:
    global _received
    _received = signum
    raise BuildInterrupted(signum)


def raise_if_interrupted() -> None:
    """Raise :class:`BuildInterrupted` again if a signal arrived, even one whose exception was lost.

    Python drops an exception raised while a finaliser (``__del__``, a weakref callback) runs, so a
    signal can land there and go unnoticed; the build asks here before the new site replaces the old.
    """
    if _received is not None:
        raise BuildInterrupted(_received)
