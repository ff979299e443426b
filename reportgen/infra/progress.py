"""Progress reporting: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger("reportgen")


class Progress:
    """Report build stages; show bars only when stderr is a terminal and not quiet."""

    def __init__(self, quiet: bool = False, bars: bool | None = None) -> None:
        self.quiet = quiet
        self.bars = (not quiet and sys.stderr.isatty()) if bars is None else bars

    @contextmanager
    def stage(self, label: str, total: int | None = None, unit: str = "it") -> Iterator[Callable[[int], None]]:
        """Time one stage; yield a callback that advances its bar by n."""
        start = time.perf_counter()
        bar = None
        if self.bars:
            from tqdm import tqdm  # only a terminal shows bars

            bar = tqdm(total=total, desc=label, unit=unit, leave=False, dynamic_ncols=True)
        if bar is None:
            log.info("%s ...", label)
        try:
            yield (bar.update if bar is not None else (lambda n=1: None))
        finally:
            if bar is not None:
                bar.close()
        log.info("%s: done in %.2f s", label, time.perf_counter() - start)
