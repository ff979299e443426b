"""Evenly spaced picks, the first and the last included: of a history, a GIF's frames, a filmstrip, a curve."""

from __future__ import annotations

import numpy as np


def evenly_spaced(length: int, count: int) -> np.ndarray:
    """Return at most ``count`` indices of ``range(length)``, evenly spaced, the first and the last included.

    All of them when ``count >= length``; ascending and unique (int64).
    """
    if count >= length:
        return np.arange(length, dtype=np.int64)
    return np.unique(np.linspace(0, length - 1, count).round().astype(np.int64))
