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
own data from its own seed, its own lr, threshold and budget, and a row drops
out of the tensors as soon as it stops, exhausts its budget or diverges.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from reportgen.config.grid import RunSpec
from reportgen.train.run import DIVERGENCE_FACTOR, RunData, Status, Trajectory

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
    """Draw each run's data under its own seed, in the course's draw order."""
    import torch

    raw: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    out = []
    for spec in specs:
        p = spec.params
        key = (p.seed, p.n_points)
        if key not in raw:  # runs that share seed and size share the same draws
            gen = torch.Generator().manual_seed(p.seed)
            u = torch.rand(p.n_points, 1, generator=gen)
            z = torch.randn(p.n_points, 1, generator=gen)
            w0 = torch.randn(1, generator=gen)
            raw[key] = (u, z, w0)
        u, z, w0 = raw[key]
        x = u * p.x_max
        y = p.slope * x + (p.intercept + p.noise * z)
        out.append(RunData(x=x.ravel().numpy(), y=y.ravel().numpy(), w0=float(w0)))
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
    mask = None if uniform else (torch.arange(width, device=device)[None, :] < torch.from_numpy(sizes).to(device)[:, None]).float()
    count = torch.from_numpy(sizes.astype(np.float32)).to(device)
    lr = per_run("lr", torch.float32)
    threshold = per_run("threshold", torch.float32)
    budget = per_run("max_iters", torch.int64)
    w = torch.tensor([d.w0 for d in data], dtype=torch.float32, device=device).requires_grad_(True)
    b = torch.zeros(n_runs, dtype=torch.float32, device=device, requires_grad=True)

    t_max = int(budget.max())
    hist_loss = torch.full((t_max, n_runs), float("nan"), dtype=torch.float32, device=device)
    hist_w = torch.empty((t_max, n_runs), dtype=torch.float32, device=device)
    hist_b = torch.empty((t_max, n_runs), dtype=torch.float32, device=device)
    length = torch.zeros(n_runs, dtype=torch.int64)
    updated_w = torch.zeros(n_runs, dtype=torch.float32)
    updated_b = torch.zeros(n_runs, dtype=torch.float32)
    status = [Status.BUDGET_EXHAUSTED] * n_runs
    stop_at: list[int | None] = [None] * n_runs
    diverged_at: list[int | None] = [None] * n_runs

    active = torch.arange(n_runs, device=device)
    loss0 = None
    for t in range(t_max):
        # Forward, as the course: y_pred = w * x + b; loss = mean(0.5 * (y - y_pred) ** 2).
        y_pred = torch.add(torch.mul(w[:, None], x), b[:, None])
        squared = 0.5 * (y - y_pred) ** 2
        loss = squared.mean(dim=1) if mask is None else (squared * mask).sum(dim=1) / count
        # Runs are independent, so d(sum of losses)/dw_r is exactly d(loss_r)/dw_r.
        loss.sum().backward()

        with torch.no_grad():
            current = loss.detach()
            if loss0 is None:
                loss0 = current.clone()
            hist_loss[t].index_copy_(0, active, current)
            hist_w[t].index_copy_(0, active, w.detach())
            hist_b[t].index_copy_(0, active, b.detach())

            diverged = ~torch.isfinite(current) | (current > DIVERGENCE_FACTOR * loss0)
            stopped = (current < threshold) & ~diverged
            # Update (withheld for a diverged run, so no NaN travels on), then test the old loss.
            step = ~diverged
            b.sub_(torch.where(step, lr * b.grad, 0.0))
            w.sub_(torch.where(step, lr * w.grad, 0.0))
            w.grad = None
            b.grad = None
            done = stopped | diverged | (budget <= t + 1)

        if progress is not None:
            progress(1)
        if not bool(done.any()):
            continue

        idx = torch.nonzero(done).ravel()
        runs = active[idx].cpu()
        updated_w[runs] = w.detach()[idx].cpu()
        updated_b[runs] = b.detach()[idx].cpu()
        length[runs] = t + 1
        for run, is_stop, is_div in zip(runs.tolist(), stopped[idx].tolist(), diverged[idx].tolist()):
            if is_stop:
                status[run], stop_at[run] = Status.STOPPED, t
            elif is_div:
                status[run], diverged_at[run] = Status.DIVERGED, t
        keep = ~done
        if not bool(keep.any()):
            break
        active, x, y, lr, threshold, budget, loss0 = (
            v[keep] for v in (active, x, y, lr, threshold, budget, loss0)
        )
        if mask is not None:
            mask, count = mask[keep], count[keep]
        w = w.detach()[keep].requires_grad_(True)
        b = b.detach()[keep].requires_grad_(True)

    # One transpose to (runs, iterations) so each run's history is a contiguous row,
    # one history at a time, each freed once copied: four histories in memory at most, not six.
    loss_np = hist_loss.t().contiguous().cpu().numpy()
    del hist_loss
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
        )
        for r in range(n_runs)
    ]
