"""The reportgen command's process, tuned as a batch job: its garbage collector and its C heap.

:func:`batch_job` is called once, by the command (``cli.run``), and by whatever runs a build as the command does
in a process of its own (the tests' conftest, the benchmarks), so that they measure what the command does.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform

#: A collection every 50,000 new objects rather than Python's 700. A build makes objects that live to its end
#: (10,000 runs, their analyses and explanations), and each full collection walks all of them and torch's and
#: matplotlib's modules (benchmarks/bench_scale.py (c): 0.7 s of a 10,000-run build, for 15 MB more at its peak).
GC_THRESHOLDS = (50_000, 20, 10)

#: glibc's malloc, pinned at the top of its own sliding thresholds on 64-bit systems (mallopt(3)): blocks below
#: 32 MiB come from the heap, and the heap gives memory back to the system once 64 MiB of its top is free. With the
#: sliding thresholds it gave back the top of the heap whenever about 2 MB of it was free, and the trainer, whose
#: autograd graph frees and allocates a dozen (runs x points) tensors an iteration, faulted them in again from fresh
#: pages: 190 page faults an iteration for 10,000 runs, a sixth of its time (benchmarks/bench_train.py).
HEAP_OPTIONS = {-3: 32 << 20, -1: 64 << 20}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
#: The environment through which a user sets glibc's malloc; what they set there is left as they set it.
HEAP_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def batch_job(heap: bool = True) -> bool:
    """Set the garbage collector's thresholds, and glibc's heap thresholds where the C library is glibc.

    Returns whether the heap's were set: not with ``heap=False`` (benchmarks/bench_train.py --default-heap), not on
    macOS, Windows or musl, whose malloc keeps its own ways, and not where the user tunes glibc's malloc through
    its environment (MALLOC_*_ or GLIBC_TUNABLES=glibc.malloc...).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    if not heap or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in HEAP_ENVIRONMENT) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a static or unusual build: the heap stays as it is, the build goes on
        return False
    return all([mallopt(option, value) == 1 for option, value in HEAP_OPTIONS.items()])  # each one tried
