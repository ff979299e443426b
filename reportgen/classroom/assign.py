"""The files a class build writes: one self-contained assignment per student, and the teacher's key.

An assignment holds the student's own data (a table and a scatter plot drawn as SVG by hand), their
settings, the course's script with their values filled in, and the homework's questions, with blanks:
none of the graded answers. It is one HTML file with no script and nothing to fetch, small enough for any
LMS. key.html lists every student's variant and answers, for the teacher only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from reportgen.classroom.key import ClassRun, key_csv
from reportgen.classroom.variants import Variant
from reportgen.config.schema import Config, Params
from reportgen.infra import output

#: The assignment's policy: nothing to fetch, no script; its style and its plot are inline.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; script-src 'none'; "
       "object-src 'none'; base-uri 'none'; form-action 'none'")
#: The scatter plot's size in CSS pixels, and its margins.
PLOT = (480, 320, 44)

#: The course's training script with one student's values: reportgen's own writing of the course's loop
#: (reportgen.train.course), so that the student runs exactly what the key was computed with.
SCRIPT = '''\
# {title}
# Run it as it is: python homework.py (needs torch and matplotlib).
# The homework asks you to change `threshold` (and, for the slope table, `slope`) and to note
# after how many iterations training stopped, with the final w and b the window shows.
import torch
import matplotlib.pyplot as plt

torch.manual_seed({seed})
slope, intercept = {slope}, {intercept}
x = torch.rand({n}, 1) * {x_max}
y = slope * x + (intercept + {noise} * torch.randn({n}, 1))

w = torch.randn(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr, threshold = {lr}, {threshold}

for iteration in range({max_iters}):
    wx = torch.mul(w, x)
    y_pred = torch.add(wx, b)
    loss = (0.5 * (y - y_pred) ** 2).mean()
    loss.backward()
    b.data.sub_(lr * b.grad)
    w.data.sub_(lr * w.grad)
    w.grad.zero_()
    b.grad.zero_()
    if iteration % 20 == 0 or loss.item() < threshold:
        plt.scatter(x.numpy(), y.numpy())
        plt.plot(x.numpy(), y_pred.data.numpy(), "r-", lw=5)
        plt.text(2, 20, "Loss=%.4f" % loss.item(), fontdict={{"size": 20, "color": "red"}})
        plt.xlim(1.5, 10)
        plt.ylim(8, 28)
        plt.title("Iteration: {{}}\\nw: {{}} b: {{}}".format(iteration, w.data.numpy(), b.data.numpy()))
        plt.pause(0.5)
    if loss.item() < threshold:
        print("stopped at iteration", iteration, "w", w.item(), "b", b.item())
        break
else:
    print("budget used up", "w", w.item(), "b", b.item())
'''


def course_script(v: Variant, defaults: Params, title: str) -> str:
    """The course's script with a student's seed and values filled in."""
    d = defaults
    return SCRIPT.format(title=title, seed=v.seed, slope=repr(v.slope), intercept=repr(v.intercept), n=d.n_points,
                         x_max=repr(d.x_max), noise=repr(d.noise), lr=repr(d.lr), threshold=repr(d.threshold),
                         max_iters=d.max_iters)


@dataclass(frozen=True)
class Points:
    """A variant's data as the assignment shows it: the table's rows and the scatter plot's marks."""

    rows: tuple[tuple[int, str, str], ...]  # (i, x, y), four decimals
    marks: tuple[tuple[float, float], ...]  # (cx, cy) in the plot's pixels
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]


def points_of(run_x, run_y) -> Points:
    width, height, margin = PLOT
    x, y = [float(v) for v in run_x], [float(v) for v in run_y]
    x_lo, x_hi, y_lo, y_hi = 0.0, max(x) * 1.05 or 1.0, min(0.0, min(y)), max(y) * 1.05 or 1.0

    def px(v: float) -> float:
        return round(margin + (v - x_lo) / (x_hi - x_lo) * (width - 1.5 * margin), 1)

    def py(v: float) -> float:
        return round(height - margin - (v - y_lo) / (y_hi - y_lo) * (height - 1.5 * margin), 1)

    def ticks(lo: float, hi: float, to) -> tuple[tuple[float, str], ...]:
        step = 10 ** len(str(int(max(abs(hi - lo) / 5, 1)))) / 10 * (2 if (hi - lo) / 5 > 2 else 1)
        n0 = int(lo // step) + 1
        return tuple((to(k * step), f"{k * step:g}") for k in range(n0, int(hi // step) + 1))

    return Points(tuple((i + 1, f"{a:.4f}", f"{b:.4f}") for i, (a, b) in enumerate(zip(x, y))),
                  tuple((px(a), py(b)) for a, b in zip(x, y)), ticks(x_lo, x_hi, px), ticks(y_lo, y_hi, py))


def write_class(run: ClassRun, config: Config, out: Path, lang: str) -> list[Path]:
    """Write every student's assignment, key.csv and key.html into ``out``; return what was written."""
    import base64

    from reportgen.infra.cache import Cache
    from reportgen.infra.options import cache_dir
    from reportgen.site.pages import make_environment
    from reportgen.site.webfont import FAMILY, page_font

    env = make_environment(lang)
    cache = Cache(cache_dir(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "assignments").mkdir(exist_ok=True)
    written = []
    template = env.get_template("class_assignment.html")
    for v in run.variants:
        first = run.results[v.id][0]
        values = dict(v=v, homework=run.homework, defaults=config.defaults, csp=CSP, plot=PLOT, family=FAMILY,
                      points=points_of(first.data.x, first.data.y), lang=lang,
                      script=course_script(v, config.defaults, f"reportgen homework: {v.id}"))
        html = template.render(**values, font_css="")
        font = page_font(html, cache)  # a Chinese name or page draws without a system CJK font
        if font is not None:
            uri = "data:font/woff2;base64," + base64.b64encode(font.data).decode("ascii")
            html = template.render(**values, font_css=font.css(uri))
        path = out / "assignments" / assignment_name(v)
        output.write_atomic(path, html.encode("utf-8"))
        written.append(path)
    output.write_atomic(out / "key.csv", key_csv(run).encode("utf-8"))
    key = env.get_template("class_key.html").render(run=run, csp=CSP, lang=lang, assignment_name=assignment_name)
    output.write_atomic(out / "key.html", key.encode("utf-8"))
    return [*written, out / "key.csv", out / "key.html"]


def assignment_name(v: Variant) -> str:
    """A student's assignment file: their id made safe for a file name, and short."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", v.id).strip("-")[:40] or "student"
    return f"{safe}-{hashlib.sha256(v.id.encode()).hexdigest()[:6]}.html"
