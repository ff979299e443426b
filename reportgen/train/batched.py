"""Train every run of a grid together, by autograd, as the course does.

The course loop, per run (``course_script.py``)::

    torch.manual_seed(seed)
    x = torch.rand(n, 1) * x_max
    y = slope * x + (intercept + noise * torch.randn(n, 1))
    w = torch.randn(1, requires_grad=True); b = torch.zeros(1, requires_grad=True)
    for iteration in range(max_iters):
        loss = (0.5 * (y - (w * x + b)) ** 2).mean()
        loss.backward()
        b.data.sub_(lr * b.grad); w.data.sub_(lr * w.grad)   # update first,
        w.grad.zero_(); b.grad.zero_()
        if loss < threshold: break                          # then test the old loss

Here the runs are rows of one (runs x points) tensor program: each row has its
own data from its own seed, its own lr, threshold and budget. A row that stops,
exhausts its budget or diverges is done at once (its history is cut at its
length), and leaves the tensors with the others once the done rows are an eighth
of them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from reportgen.config.grid import RunSpec
from reportgen.train.minibatch import Batches
from reportgen.train.optim import Updates
from reportgen.train.run import DIVERGENCE_FACTOR, RunData, Status, Trajectory

#: Finished runs leave the batch once they are this fraction of it (1/8): a run at a time, as the runs of a grid
#: stop or diverge one by one, cost a copy of every per-run tensor per iteration.
DROP_SHARE = 8

if TYPE_CHECKING:  # torch is imported where it is used: reading this module (for its listing) needs none
    import torch

log = logging.getLogger("reportgen")


def resolve_device(requested: str) -> str:
    """Return the device to train on; "cuda" falls back to the CPU, saying so, when there is no GPU."""
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        log.warning("--device cuda: no CUDA device is available to torch %s; training on the CPU", torch.__version__)
        return "cpu"
    return requested


def draw_data(specs: Sequence[RunSpec]) -> list[RunData]:
    """Draw each run's data under its own seed, in the course's draw order.

    The draws come from torch, a generator per seed and size; the course's arithmetic on them
    (``x = u * x_max``, ``y = slope * x + (intercept + noise * z)``) runs in float32 arrays over the runs of
    one size, which round every value as torch's float32 kernels do with a Python number.
    """
    import torch

    raw: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, float]] = {}
    for p in (spec.params for spec in specs):
        key = (p.seed, p.n_points)
        if key not in raw:  # runs that share seed and size share the same draws
            gen = torch.Generator().manual_seed(p.seed)
            u = torch.rand(p.n_points, 1, generator=gen)
            z = torch.randn(p.n_points, 1, generator=gen)
            w0 = torch.randn(1, generator=gen)
            raw[key] = (u.ravel().numpy(), z.ravel().numpy(), float(w0))
    out: list[RunData] = [None] * len(specs)  # type: ignore[list-item]
    sizes: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        sizes.setdefault(spec.params.n_points, []).append(i)
    for rows in sizes.values():
        params = [specs[i].params for i in rows]
        draws = [raw[p.seed, p.n_points] for p in params]
        u, z = np.stack([d[0] for d in draws]), np.stack([d[1] for d in draws])

        def column(name: str) -> np.ndarray:
            return np.array([getattr(p, name) for p in params], np.float32)[:, None]

        x = u * column("x_max")
        y = column("slope") * x + (column("intercept") + column("noise") * z)
        for i, xi, yi, (_, _, w0) in zip(rows, x, y, draws):
            out[i] = RunData(x=xi, y=yi, w0=w0)
    return out


def train_grid(
    specs: Sequence[RunSpec],
    data: Sequence[RunData],
    *,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """Train all runs together; return one trajectory per run, in order."""
    import torch

    n_runs = len(specs)
    if n_runs == 0:
        return []
    sizes = np.array([len(d.x) for d in data])
    width = int(sizes.max())
    uniform = bool((sizes == width).all())
    x_np = np.zeros((n_runs, width), np.float32)
    y_np = np.zeros((n_runs, width), np.float32)
    for i, d in enumerate(data):
        x_np[i, : len(d.x)] = d.x
        y_np[i, : len(d.y)] = d.y

    def per_run(name: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([getattr(s.params, name) for s in specs], dtype=dtype, device=device)

    x = torch.from_numpy(x_np).to(device)
    y = torch.from_numpy(y_np).to(device)
    mask = None if uniform else \
        (torch.arange(width, device=device)[None, :] < torch.from_numpy(sizes).to(device)[:, None]).float()
    count = torch.from_numpy(sizes.astype(np.float32)).to(device)
    threshold = per_run("threshold", torch.float32)
    budget = per_run("max_iters", torch.int64)
    w0 = torch.tensor([d.w0 for d in data], dtype=torch.float32, device=device)
    units = Units(x, mask, count, per_run("standardize", torch.bool))
    x = units.inputs(x)
    w_start, b_start = units.start(w0)
    w = w_start.clone().requires_grad_(True)
    b = b_start.clone().requires_grad_(True)
    updates = Updates(specs, 2, device)
    batches = Batches(specs, sizes, width, device)
    minibatch = batches.partial.cpu().numpy().copy()  # the runs that see a minibatch (batches forgets finished ones)

    t_max = int(budget.max())
    hist_loss = torch.full((t_max, n_runs), float("nan"), dtype=torch.float32, device=device)
    hist_full = torch.full((t_max, n_runs), float("nan"), dtype=torch.float32, device=device) if batches.any else None
    hist_w = torch.empty((t_max, n_runs), dtype=torch.float32, device=device)
    hist_b = torch.empty((t_max, n_runs), dtype=torch.float32, device=device)
    length = torch.zeros(n_runs, dtype=torch.int64)
    updated_w = torch.zeros(n_runs, dtype=torch.float32)
    updated_b = torch.zeros(n_runs, dtype=torch.float32)
    status = [Status.BUDGET_EXHAUSTED] * n_runs
    stop_at: list[int | None] = [None] * n_runs
    diverged_at: list[int | None] = [None] * n_runs

    active = torch.arange(n_runs, device=device)
    live = torch.ones(n_runs, dtype=torch.bool, device=device)  # per active row: False once its run has finished
    limit = None  # per active run: the loss past which it has diverged, DIVERGENCE_FACTOR times its first (capped)

    def record(history: torch.Tensor, t: int, values: torch.Tensor) -> None:
        """Write the active runs' values at iteration t into their columns: a plain copy while every run is active."""
        if len(active) == n_runs:
            history[t].copy_(values)
        else:
            history[t].index_copy_(0, active, values)

    for t in range(t_max):
        # Forward, as the course: y_pred = w * x + b; loss = mean(0.5 * (y - y_pred) ** 2).
        y_pred = torch.add(torch.mul(w[:, None], x), b[:, None])
        squared = 0.5 * (y - y_pred) ** 2
        loss = full = squared.mean(dim=1) if mask is None else (squared * mask).sum(dim=1) / count
        if batches.any:  # a minibatch run's step, and its stop test, see its batch's loss
            seen = batches.mask(t)
            loss = torch.where(batches.partial, (squared * seen).sum(dim=1) / seen.sum(dim=1).clamp(min=1), full)
        # Runs are independent, so d(sum of losses)/dw_r is exactly d(loss_r)/dw_r.
        loss.sum().backward()

        with torch.no_grad():
            current = loss.detach()
            everywhere = full.detach()  # the loss over all points: a minibatch run's divergence is judged on it
            if limit is None:  # at most float32's largest, so that "not (loss <= limit)" holds of an infinite loss
                limit = (DIVERGENCE_FACTOR * everywhere).clamp(max=torch.finfo(torch.float32).max)
            record(hist_loss, t, current)
            if hist_full is not None:
                record(hist_full, t, everywhere)
            shown_w, shown_b = units.original(w.detach(), b.detach())
            record(hist_w, t, shown_w)
            record(hist_b, t, shown_b)

            diverged = ~(everywhere <= limit)  # past its limit, infinite or NaN
            if batches.any:  # the batch's loss is tested too
                diverged |= ~torch.isfinite(current)
            below = current < threshold
            done = (below | diverged | (budget <= t + 1)) & live
            ending = bool(done.any())
            # The tests above read this iteration's loss, before the update, as the course's loop does. The update
            # is withheld for a run that diverges now (its last parameters are reported); a finished row still in
            # the batch steps with the others, and nothing it computes is read again.
            w, b = updates.step_pair(w.detach(), b.detach(), w.grad, b.grad, t, ~diverged if ending else None)

        if progress is not None:
            progress(1)
        if not ending:
            w.requires_grad_(True)
            b.requires_grad_(True)
            continue

        idx = torch.nonzero(done).ravel()
        runs = active[idx].cpu()
        final_w, final_b = units.original(w, b)
        updated_w[runs] = final_w[idx].cpu()
        updated_b[runs] = final_b[idx].cpu()
        length[runs] = t + 1
        stopped = below & ~diverged
        for run, is_stop, is_div in zip(runs.tolist(), stopped[idx].tolist(), diverged[idx].tolist()):
            if is_stop:
                status[run], stop_at[run] = Status.STOPPED, t
            elif is_div:
                status[run], diverged_at[run] = Status.DIVERGED, t
        live &= ~done
        left = int(live.sum())
        if left == 0:
            break
        if (len(live) - left) * DROP_SHARE < len(live):
            # A finished run stays in the batch, its rows computed but never read again (its history is cut at its
            # length), until the finished ones are 1/DROP_SHARE of it: dropping them copies every per-run tensor.
            w.requires_grad_(True)
            b.requires_grad_(True)
            continue
        keep, live = live, live[live]
        active, x, y, threshold, budget, limit = (v[keep] for v in (active, x, y, threshold, budget, limit))
        if mask is not None:
            mask, count = mask[keep], count[keep]
        units.keep(keep)
        updates.keep(keep)
        batches.keep(keep)
        w = w[keep].requires_grad_(True)
        b = b[keep].requires_grad_(True)

    # One transpose to (runs, iterations) so each run's history is a contiguous row,
    # one history at a time, each freed once copied: four histories in memory at most, not six.
    loss_np = hist_loss.t().contiguous().cpu().numpy()
    del hist_loss
    full_np = None
    if hist_full is not None:
        full_np = hist_full.t().contiguous().cpu().numpy()
        del hist_full
    w_np = hist_w.t().contiguous().cpu().numpy()
    del hist_w
    b_np = hist_b.t().contiguous().cpu().numpy()
    del hist_b
    lengths, ws, bs = length.tolist(), updated_w.tolist(), updated_b.tolist()
    return [
        Trajectory(
            status=status[r],
            stop_iteration=stop_at[r],
            diverged_at=diverged_at[r],
            loss=loss_np[r, : lengths[r]],
            w=w_np[r, : lengths[r]],
            b=b_np[r, : lengths[r]],
            updated_w=ws[r],
            updated_b=bs[r],
            full_loss=full_np[r, : lengths[r]] if minibatch[r] else np.empty(0, np.float32),
        )
        for r in range(n_runs)
    ]


class Units:
    """Standardised inputs: a run with ``standardize`` trains on x' = (x - mean) / std, in its own (w', b').

    The loss is the same function of the line either way (w' x' + b' = w x + b with w = w' / std and
    b = b' - w' mean / std), so a standardised run starts from the course's (w0, 0) and its path is reported
    in the original units, on the same loss surface. A run without it passes through unchanged, bit for bit.
    """

    def __init__(self, x: torch.Tensor, mask: torch.Tensor | None, count: torch.Tensor, on: torch.Tensor) -> None:
        import torch

        self.any = bool(on.any())
        if not self.any:
            return
        valid = torch.ones_like(x) if mask is None else mask
        mean = (x * valid).sum(dim=1) / count
        std = torch.sqrt((((x - mean[:, None]) * valid) ** 2).sum(dim=1) / count)
        self.on = on
        self.mean = torch.where(on, mean, 0.0)
        self.std = torch.where(on, std, 1.0)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Return the x each run trains on."""
        import torch

        if not self.any:
            return x
        return torch.where(self.on[:, None], (x - self.mean[:, None]) / self.std[:, None], x)

    def start(self, w0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the trained coordinates of the course's start (w0, 0)."""
        import torch

        if not self.any:
            return w0, torch.zeros_like(w0)
        return torch.where(self.on, w0 * self.std, w0), torch.where(self.on, w0 * self.mean, 0.0)

    def original(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return trained coordinates in the original units."""
        import torch

        if not self.any:
            return w, b
        return torch.where(self.on, w / self.std, w), torch.where(self.on, b - w * self.mean / self.std, b)

    def keep(self, rows: torch.Tensor) -> None:
        """Drop the runs that finished."""
        if self.any:
            self.on, self.mean, self.std = self.on[rows], self.mean[rows], self.std[rows]
