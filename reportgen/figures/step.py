"""One gradient step of the course run on its loss surface: where iteration k stands, −∇L, and the step −lr·∇L.

The numbers are the captured tensors' (:class:`reportgen.teach.evidence.StepProof`); the surface is the
course's loss on the run's own data, computed here in float64.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reportgen.core import palette  # noqa: E402
from reportgen.core.formatting import num  # noqa: E402
from reportgen.core.i18n import Translations  # noqa: E402
from reportgen.figures.plots import fonts_for  # noqa: E402
from reportgen.teach.evidence import StepProof  # noqa: E402
from reportgen.train.run import RunResult  # noqa: E402

SIZE = (5.5, 4.4)
TEXT_PT = 10


def step_svg(run: RunResult, proof: StepProof, tr: Translations) -> str:
    """Contours of the loss around iteration k, the direction −∇L and the step course_step took."""
    words = {"title": tr.gettext("Iteration %(k)s: one step of gradient descent on the loss surface") % {"k": proof.k},
             "at": tr.gettext("(w, b) at iteration %(k)s") % {"k": proof.k},
             "step": tr.gettext("step −lr·∇L = (%(dw)s, %(db)s)") % {"dw": num(proof.step[0]), "db": num(proof.step[1])},
             "minimum": tr.gettext("least squares")}
    with fonts_for(*words.values()):
        x, y = run.data.x.ravel().astype(np.float64), run.data.y.ravel().astype(np.float64)
        a = run.analysis
        w_lo, w_hi = sorted((proof.w, proof.after[0], a.w_star))[::2]
        b_lo, b_hi = sorted((proof.b, proof.after[1], a.b_star))[::2]
        pad_w, pad_b = 0.35 * max(w_hi - w_lo, 0.2), 0.2 * max(b_hi - b_lo, 0.5)
        ws = np.linspace(w_lo - pad_w, w_hi + pad_w, 160)
        bs = np.linspace(b_lo - pad_b, b_hi + pad_b, 160)
        gw, gb = np.meshgrid(ws, bs)
        surface = np.mean(0.5 * (y[None, None, :] - (gw[..., None] * x + gb[..., None])) ** 2, axis=-1)
        fig = Figure(figsize=SIZE, dpi=100, layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.subplots()
        levels = np.geomspace(max(surface.min(), 1e-9) * 1.02, surface.max(), 12)
        ax.contour(gw, gb, surface, levels=levels, colors=palette.CONTOUR, linewidths=0.9)
        ax.plot([a.w_star], [a.b_star], "*", color="black", ms=14, label=words["minimum"])
        ax.plot([proof.w], [proof.b], "o", color=palette.PATH, ms=7, label=words["at"])
        ax.annotate("", xy=proof.after, xytext=(proof.w, proof.b),
                    arrowprops={"arrowstyle": "-|>", "color": palette.PATH, "lw": 2.2, "mutation_scale": 16})
        ax.plot([], [], "-", color=palette.PATH, lw=2.2, label=words["step"])
        ax.set_xlim(ws[0], ws[-1])
        ax.set_ylim(bs[0], bs[-1])
        ax.set_xlabel("w", fontsize=TEXT_PT)
        ax.set_ylabel("b", fontsize=TEXT_PT)
        ax.tick_params(labelsize=TEXT_PT - 1)
        ax.legend(fontsize=TEXT_PT - 1, loc="best", frameon=True)
        ax.set_title(words["title"], fontsize=TEXT_PT)
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": "reportgen", "svg.fonttype": "path"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "reportgen"})
        return buffer.getvalue()
