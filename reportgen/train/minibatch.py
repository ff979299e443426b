"""Minibatches, batched: which points each run's step sees.

A run with ``batch_size`` B < n takes its points in epochs of ceil(n / B) steps: at the start of each
epoch its points are put in a fresh order, and step k of the epoch takes the points ranked kB to kB + B - 1
(the last batch of an epoch may be smaller, as a DataLoader's is). The order is a hash of (seed, epoch,
point), so a run's batches depend on its own seed only, never on which other runs train beside it, and a
rebuild draws the same ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from reportgen.config.grid import RunSpec

if TYPE_CHECKING:
    import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def epoch_ranks(seeds: np.ndarray, epochs: np.ndarray, sizes: np.ndarray, width: int) -> np.ndarray:
    """Return each run's order of its points in an epoch: ranks[r, i] is point i's place (padding ranks last)."""
    point = np.arange(width, dtype=np.uint64)[None, :]
    key = _splitmix(_splitmix(seeds.astype(np.uint64)[:, None] ^ _splitmix(epochs.astype(np.uint64))[:, None])
                    ^ point)
    key[point >= sizes.astype(np.uint64)[:, None]] = np.iinfo(np.uint64).max
    order = np.argsort(key, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(width)[None, :].repeat(len(order), 0), axis=1)
    return ranks


class Batches:
    """The minibatch of every active run at each step; a full-batch run's is all of its points."""

    def __init__(self, specs: Sequence[RunSpec], sizes: np.ndarray, width: int, device: str) -> None:
        import torch

        batch = np.array([s.params.batch_size or n for s, n in zip(specs, sizes)], np.int64)
        self.any = bool((batch < sizes).any())
        self.device = device
        self.width = width
        self.seeds = np.array([s.params.seed for s in specs], np.uint64)
        self.sizes = sizes.astype(np.int64)
        self.batch = batch
        self.steps = -(-self.sizes // batch)  # batches per epoch
        self.partial = torch.from_numpy(batch < sizes).to(device)  # rows that see a minibatch
        self.ranks = torch.zeros((len(specs), width), dtype=torch.int64, device=device)

    def keep(self, rows: torch.Tensor) -> None:
        """Drop the runs that finished: keep only ``rows`` (a boolean mask over the active runs)."""
        keep = rows.cpu().numpy()
        for name in ("seeds", "sizes", "batch", "steps"):
            setattr(self, name, getattr(self, name)[keep])
        self.partial, self.ranks = self.partial[rows], self.ranks[rows]
        self.any = bool((self.batch < self.sizes).any())  # the last minibatch run gone: no more masks to draw

    def mask(self, t: int) -> torch.Tensor:
        """Return the (runs, points) 0/1 mask of the points step ``t`` sees (float32)."""
        import torch

        within = t % self.steps
        fresh = np.nonzero((within == 0) & (self.batch < self.sizes))[0]
        if len(fresh):
            ranks = epoch_ranks(self.seeds[fresh], t // self.steps[fresh], self.sizes[fresh], self.width)
            self.ranks[torch.from_numpy(fresh).to(self.device)] = torch.from_numpy(ranks).to(self.device)
        low = torch.from_numpy(within * self.batch).to(self.device)[:, None]
        high = torch.minimum(low + torch.from_numpy(self.batch).to(self.device)[:, None],
                             torch.from_numpy(self.sizes).to(self.device)[:, None])
        return ((self.ranks >= low) & (self.ranks < high)).float()
