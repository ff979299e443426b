"""Choose where animations render: local worker processes or a dask cluster.

``render_runs`` accepts any :class:`concurrent.futures.Executor`. With "local" it
makes its own process pool; with "dask" the runs go to ``Client.get_executor()``,
either on a cluster started here (loopback only, no dashboard) or on a running
scheduler. dask is an optional extra, imported only when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from concurrent.futures import Executor
from typing import Iterator

from reportgen.infra.errors import ConfigError

log = logging.getLogger("reportgen")

KINDS = ("local", "dask")
#: Seconds to reach a scheduler (and for it to answer, and to have a worker) before giving up.
CONNECT_TIMEOUT = 10.0
#: Extra seconds for the scheduler to answer dask's handshake once the connection is open.
HANDSHAKE_TIMEOUT = 5.0
#: prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
MISSING_DASK = "--executor dask needs the dask extra: pip install 'reportgen[dask]'"


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the build that started it dies, even by SIGKILL (Linux; elsewhere a no-op).

    Run as the process pool's initializer. The worker's ffmpeg then sees its input end and exits too.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl: a worker outlives a killed build, as before
            log.debug("prctl(PR_SET_PDEATHSIG) is unavailable")
    if os.getppid() != parent:  # the build died before the request was made
        os._exit(1)


@contextlib.contextmanager
def make_executor(kind: str, jobs: int, scheduler: str | None = None) -> Iterator[Executor | None]:
    """Yield the executor to render with (None: render_runs' own pool); close it on exit."""
    if kind not in KINDS:
        raise ConfigError(f"--executor {kind}: unknown; choose one of {', '.join(KINDS)}")
    if kind == "local":
        if scheduler is not None:
            raise ConfigError("--scheduler needs --executor dask")
        yield None
        return
    try:
        import distributed
    except ImportError:
        raise ConfigError(MISSING_DASK) from None
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(_local_cluster(distributed, jobs))
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        else:
            client = stack.enter_context(_connect(distributed, scheduler))
        # pure=False: render_task writes files, so identical calls must not be merged or cached
        # by the cluster, and hashing every task's arrays into a dask key would be wasted work.
        executor = client.get_executor(pure=False)
        try:
            yield executor
        finally:
            executor.shutdown(wait=False)  # cancels what is still queued (an error or Ctrl-C)


def _local_cluster(distributed, jobs: int):
    """Start ``jobs`` single-threaded worker processes and their scheduler, on loopback only."""
    import dask

    # Even without a dashboard, the scheduler and every worker open an HTTP server (metrics,
    # health, a proxy), the scheduler's on port 8787. Nothing here needs them: serve no route,
    # and let the scheduler's take a free port. All of it binds 127.0.0.1, LocalCluster's default.
    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        return distributed.LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )


def _connect(distributed, address: str):
    """Return a Client of the scheduler at ``address``, or raise ConfigError in one line."""
    try:
        # Client's own timeout covers the TCP connect only: a server that accepts but never
        # answers the handshake (the dashboard's port, any HTTP server) would hang it forever.
        import asyncio

        asyncio.run(_probe(address))
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - a wrong address fails in many ways (OSError, ValueError, garbage replies)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no dask handshake within {CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT:g} s (is this the dashboard's port?)"
        raise ConfigError(f"--scheduler {address}: cannot reach a dask scheduler there: {reason}") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        threads = client.nthreads()
    except Exception as exc:  # noqa: BLE001
        client.close()
        raise ConfigError(f"--scheduler {address}: no dask worker joined within {CONNECT_TIMEOUT:g} s") from exc
    shared = sorted(worker for worker, n in threads.items() if n > 1)
    if shared:
        client.close()
        # A worker process keeps one matplotlib figure per dpi; threads would draw on it at once.
        raise ConfigError(
            f"--scheduler {address}: worker {shared[0]} runs {threads[shared[0]]} threads; "
            "start the workers with --nthreads 1"
        )
    log.info("rendering on the dask scheduler at %s (%d workers)", address, len(threads))
    return client


async def _probe(address: str) -> None:
    """Connect and complete dask's handshake within the timeout, then hang up."""
    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=CONNECT_TIMEOUT), CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT)
    await comm.close()
