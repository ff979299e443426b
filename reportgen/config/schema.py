"""The config's schema: each option is one dataclass field, declared once with :func:`option`.

Its type (the annotation), default, bounds or choices, and a one-line doc. Validation
(:mod:`reportgen.config.load`), the commented file ``reportgen init`` writes and the README's table of
options (:mod:`reportgen.config.document`) are all made from these fields.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from reportgen.core import languages

ANIMATE_MODES = ("auto", "all", "none", "corners")
#: The update rules a run can train with: the course's plain step, heavy-ball and Nesterov momentum (as
#: torch.optim.SGD), and Adam (as torch.optim.Adam).
OPTIMIZERS = ("gd", "momentum", "nesterov", "adam")
#: What a published file shows in place of the class secret.
REDACTED = "(set, not shown)"
#: Without an ``animate`` key, a sweep of at most this many runs is animated whole, a larger one by its corners.
ANIMATE_LIMIT = 12

Check = Callable[[Any], "str | None"]


def option(default: Any, doc: str, check: Check | None = None, *, choices: tuple[str, ...] = (),
           required: bool = False) -> Any:
    """Declare a config option: its default, a one-line doc, and its bounds, choices or need."""
    metadata = {"doc": doc, "check": check, "choices": choices, "required": required}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=tuple(default) if isinstance(default, list) else default, metadata=metadata)


def finite(v: float) -> str | None:
    return None if math.isfinite(v) else "must be a finite number"


def positive(v: float) -> str | None:
    return finite(v) or (None if v > 0 else "must be > 0")


def non_negative(v: float) -> str | None:
    return finite(v) or (None if v >= 0 else "must be >= 0")


#: The largest size of the data's parameters: the course trains in float32 (largest 3.4e38) and its loss squares y,
#: so slope * x_max, the intercept and the noise stay within 1e9 each and y**2 within about 1e37.
DATA_MAX = 1e9
#: A stop threshold, when not 0, lies within these: float32 holds it, and a figure's log axis can show it.
THRESHOLD_RANGE = (1e-30, 1e30)


def sized(check: Check) -> Check:
    """``check``, and a size of at most DATA_MAX."""
    def checked(v: float) -> str | None:
        return check(v) or (None if abs(v) <= DATA_MAX else
                            f"must be at most {DATA_MAX:g} in size (the course trains in float32 and squares y)")
    return checked


def threshold_value(v: float) -> str | None:
    """0 (never stop), or a float32 number a log axis can show."""
    lo, hi = THRESHOLD_RANGE
    return non_negative(v) or (None if v == 0 or lo <= v <= hi else f"must be 0 or between {lo:g} and {hi:g}")


def between(lo: int, hi: int) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


def fraction(v: float) -> str | None:
    """A coefficient of a moving average: 0 <= v < 1."""
    return finite(v) or (None if 0 <= v < 1 else "must be in [0, 1)")


def language(v: str) -> str | None:
    return None if languages.normalize(v) else languages.UNKNOWN


@dataclass(frozen=True)
class Params:
    """Every training parameter of one run (the ``[defaults]`` table, and what a sweep varies)."""

    slope: float = option(2.0, "True slope of the line the data is drawn from.", sized(finite))
    intercept: float = option(5.0, "True intercept of that line.", sized(finite))
    threshold: float = option(1.0, "Stop at the first iteration whose loss is below this value.", threshold_value)
    lr: float = option(0.05, "Learning rate of the gradient-descent update.", positive)
    max_iters: int = option(1000, "Iteration budget of the training loop.", between(1, 1_000_000))
    seed: int = option(10, "torch.manual_seed for the data, the noise and the initial w.", between(0, 2**63 - 1))
    n_points: int = option(20, "Number of data points.", between(2, 100_000))
    noise: float = option(1.0, "Standard deviation of the Gaussian noise on y.", sized(non_negative))
    x_max: float = option(10.0, "x is drawn uniformly from [0, x_max).", sized(positive))
    optimizer: str = option("gd", "Update rule: \"gd\" (the course's w -= lr * grad), \"momentum\" (heavy ball), "
                                  "\"nesterov\" or \"adam\", each as torch.optim computes it.", choices=OPTIMIZERS)
    momentum: float = option(0.9, "β of \"momentum\" and \"nesterov\": the share of the last step kept in the "
                                   "next, in [0, 1).", fraction)
    beta1: float = option(0.9, "Adam's β1: decay of its running mean of the gradient, in [0, 1).", fraction)
    beta2: float = option(0.999, "Adam's β2: decay of its running mean of the squared gradient, in [0, 1).",
                          fraction)
    eps: float = option(1e-8, "Adam's eps, added to the root of the squared-gradient mean.", positive)
    standardize: bool = option(False, "Train on x centred and scaled to unit variance; w and b are reported back in "
                                      "the original units.")
    batch_size: int = option(0, "Points per step: 0 takes all of them (the course); fewer draws minibatches, "
                                "reshuffled every epoch from the seed, and the stop test sees the minibatch's loss.",
                             between(0, 100_000))

    def replace(self, **changes: Any) -> "Params":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        # Every option is a number, a bool or a name: a plain copy, which a 10,000-run build makes 50,000 times
        # (dataclasses.asdict, which copies deeply, took 3 s of it).
        return {f.name: getattr(self, f.name) for f in PARAM_FIELDS}


PARAM_FIELDS = dataclasses.fields(Params)
#: The fewest loss values a run keeps however big its grid (unless history_points asks for fewer).
HISTORY_FLOOR = 100


@dataclass(frozen=True)
class RenderSettings:
    """How animations are drawn and encoded (the ``[render]`` table)."""

    frame_every: int = option(1, "Draw every this many iterations into the MP4; 1 lets the video's scrubber reach "
                                 "each one.", between(1, 1_000_000))
    formats: tuple[str, ...] = option(("gif", "mp4"), "Animation formats to write; [] trains and tabulates only.",
                                      choices=("gif", "mp4"))
    seconds: float = option(8.0, "About how long a run's video plays; its frame rate follows, within 5 and fps.",
                            between(1, 600))
    fps: int = option(60, "The fastest a video plays, in frames per second: longer runs play longer.", between(5, 120))
    gif_frames: int = option(30, "Frames of a run's GIF preview, evenly spaced from the first to the last.",
                             between(2, 500))
    dpi: int = option(100, "Resolution of the frames, in pixels per inch (8 inches wide).", between(30, 300))
    phone: bool = option(True, "Also draw each MP4 for a phone held upright (4.8 inches wide, the views stacked); "
                               "the page plays it on screens below 36 rem.")


@dataclass(frozen=True)
class Limits:
    """Budgets a build must fit, checked from the config before any work (the ``[limits]`` table; each has a flag)."""

    max_memory_mb: int = option(2000, "Refuse a build whose training would need more memory than this, in MB "
                                      "(estimated).", between(1, 10**9))
    max_results_mb: int = option(200, "Refuse a build whose results.json would be larger than this, in MB (estimated).",
                                 between(1, 10**9))
    max_frames: int = option(100_000, "Refuse a build whose animations would need more frames than this (each "
                                      "drawing counts: wide and phone).",
                             between(1, 10**9))
    max_site_mb: int = option(1000, "Refuse a build whose site would be larger than this, in MB (estimated).",
                              between(1, 10**9))
    history_points: int = option(10_000, "Keep at most this many loss values of a run in results.json: evenly "
                                         "spaced, the first and last included.", between(2, 10**9))
    history_total: int = option(1_000_000, "Keep about this many loss values in results.json over all runs: a big "
                                           "grid keeps fewer per run, never fewer than 100.", between(2, 10**12))

    def history_per_run(self, runs: int) -> int:
        """Return how many loss values each of ``runs`` runs keeps in results.json: ``history_points``, fewer when
        the runs together would pass ``history_total`` (10,000 runs of 1,000 iterations keep 100 each: results.json
        28 MB, not 137)."""
        return min(self.history_points, max(HISTORY_FLOOR, self.history_total // max(runs, 1)))


def limit_flag(option: str) -> str:
    """Return the command-line flag of a ``[limits]`` option (``max_frames``: ``--max-frames``)."""
    return "--" + option.replace("_", "-")


@dataclass(frozen=True)
class CacheSettings:
    """How much the build cache beside the site keeps (the ``[cache]`` table)."""

    keep_builds: int = option(5, "After a build, remove the cache entries that none of the last this many builds "
                                 "used.", between(1, 10**6))
    max_mb: int = option(1000, "Then remove the least recently used entries while the cache is larger than this, "
                               "in MB (never the ones the build just used).", between(1, 10**9))


def value_range(v: tuple) -> str | None:
    """A [low, high] pair of finite numbers, or nothing (the default's value for every student)."""
    if len(v) == 0:
        return None
    if len(v) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
        return "must be [low, high], two finite numbers"
    return None if v[0] <= v[1] else "must be [low, high] with low <= high"


@dataclass(frozen=True)
class ClassroomSettings:
    """``reportgen class``: one variant of the homework per student, derived from the id under a class secret."""

    secret: str = option("", "The class secret that derives each student's variant (HMAC-SHA256 of the id); never "
                             "published. Or set REPORTGEN_CLASS_SECRET.")
    slope: tuple[float, ...] = option((), "[low, high]: each student's true slope, drawn in this range (2 decimals); "
                                          "[] keeps [defaults] slope.", value_range)
    intercept: tuple[float, ...] = option((), "[low, high]: each student's true intercept, likewise.", value_range)


@dataclass(frozen=True)
class Sweep:
    """A named grid (one ``[[sweep]]`` table): the Cartesian product of the values in ``vary``."""

    name: str = option("", "URL-safe name of the sweep: letters, digits, '-' and '_'.", required=True)
    title: str = option("", "Heading of the sweep in the report (default: its name).")
    description: str = option("", "Text under the heading.")
    vary: dict[str, tuple[Any, ...]] = option(
        {}, "Parameter = [values]; several parameters make a grid.", required=True)
    animate: str | tuple[str | dict[str, Any], ...] = option(
        "auto", f"\"all\", \"none\", \"corners\", or a list of run ids and {{slope = 5.0}} tables; "
                f"\"auto\": all runs of a sweep of at most {ANIMATE_LIMIT}, else its corners.")


    @property
    def dimensions(self) -> tuple[str, ...]:
        """The keys its runs differ in: those given several values (every key when none is).

        A key given one value is a setting of the whole sweep: it sets every run but names none.
        """
        return tuple(k for k, v in self.vary.items() if len(v) > 1) or tuple(self.vary)


@dataclass(frozen=True)
class Config:
    """A validated config: the top-level keys, then the tables."""

    title: str = option("Gradient descent on a linear regression", "Title of the report.")
    description: str = option("", "Text under the title.")
    lang: str = option(languages.DEFAULT, "Language of the report: en, zh-CN, or all (one folder each); "
                                          "--lang overrides it.", language)
    step_iteration: int = option(1, "The iteration of the course run whose gradient step the report freezes and ties "
                                    "to its autograd graph (0 is the first).", between(0, 1_000_000))
    defaults: Params = field(default_factory=Params)
    sweeps: tuple[Sweep, ...] = ()
    render: RenderSettings = field(default_factory=RenderSettings)
    limits: Limits = field(default_factory=Limits)
    cache: CacheSettings = field(default_factory=CacheSettings)
    classroom: ClassroomSettings = field(default_factory=ClassroomSettings)
    builtin: bool = False  # the built-in config (its texts are the project's own, so they are translated)
    source: str = "built-in config"  # where it was read from, for messages
    text: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain JSON-able data."""
        out = {f.name: getattr(self, f.name) for f in options_of(Config)}
        for name in SECTIONS:
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(getattr(self, name)).items()}
        if self.classroom.secret:  # a published file never holds it
            out["classroom"]["secret"] = REDACTED
        out["sweeps"] = [{k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(s).items()}
                         | {"vary": {k: list(v) for k, v in s.vary.items()}} for s in self.sweeps]
        return out

    def translated(self, gettext: Callable[[str], str]) -> "Config":
        """Return the built-in config with its titles and descriptions in a language; a user's stays as written."""
        if not self.builtin:
            return self

        def tr(text: str) -> str:
            return gettext(text) if text else ""

        sweeps = tuple(dataclasses.replace(s, title=tr(s.title), description=tr(s.description)) for s in self.sweeps)
        return dataclasses.replace(self, title=tr(self.title), description=tr(self.description), sweeps=sweeps)


def options_of(cls: type) -> tuple[dataclasses.Field, ...]:
    """Return the fields of ``cls`` that are config options (declared with :func:`option`)."""
    return tuple(f for f in dataclasses.fields(cls) if "doc" in f.metadata)


#: The tables of a config file and the dataclass each is read into.
SECTIONS: dict[str, type] = {"defaults": Params, "render": RenderSettings, "limits": Limits, "cache": CacheSettings,
                             "classroom": ClassroomSettings}
#: The training parameters: what ``[defaults]`` sets and a sweep may vary.
PARAM_NAMES = tuple(f.name for f in options_of(Params))
