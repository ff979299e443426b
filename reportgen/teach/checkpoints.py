"""Predict-then-reveal checkpoints: a question before each answer, decided and worded from this build's runs.

A checkpoint asks the reader to commit to a guess before the page tells them: which option is right is
decided from the runs (or the captured graph evidence), never assumed, and each option's feedback quotes
this build's numbers; a wrong option's feedback says why that reasoning fails here. A config where the
answer changes changes the checkpoint; one without the runs a question needs has no such checkpoint.
The page shows them with radio buttons and CSS only (templates/_checkpoint.html).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from reportgen.config.schema import Config
from reportgen.core.formatting import num, param
from reportgen.core.i18n import Translations
from reportgen.teach.evidence import GraphEvidence
from reportgen.teach.stops import modes_of
from reportgen.teach.sweeps import start_error
from reportgen.teach.theory import StudentAnswer
from reportgen.train.analysis import closed_form
from reportgen.train.run import RunResult, Status


@dataclass(frozen=True)
class Option:
    """One choice: its words, whether this build's runs make it right, and what the page says when it is chosen."""

    key: str  # stable across languages and builds: "never", "halfway", ...
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Checkpoint:
    """A question the reader answers before the page answers it."""

    name: str  # data-checkpoint, and the radio group's name
    place: str  # where the page puts it: "sweep:<name>", "answer" (the top answer) or "graphs:<part>"
    question: str
    options: tuple[Option, ...]
    reveal: str  # shown once any option is chosen: the answer, with this build's numbers

    @property
    def answer(self) -> Option:
        return next(o for o in self.options if o.correct)


def checkpoints(config: Config, results: Sequence[RunResult], student: StudentAnswer | None,
                evidence: GraphEvidence | None, tr: Translations) -> tuple[Checkpoint, ...]:
    """Every checkpoint this build's runs can decide, in page order."""
    by_sweep = {s.name: [r for r in results if r.spec.sweep == s.name] for s in config.sweeps}
    found: list[Checkpoint | None] = []
    if student is not None:
        found.append(will_it_stop(student, tr))
    for sweep in config.sweeps:
        runs = by_sweep[sweep.name]
        if set(sweep.vary) == {"threshold"}:
            found += [updates_before_stop(sweep.name, runs, tr), threshold_between(sweep.name, runs, tr)]
        elif set(sweep.vary) == {"slope"}:
            found.append(first_slope(sweep.name, runs, tr))
        elif set(sweep.vary) == {"lr"}:
            found.append(largest_lr(sweep.name, runs, tr))
    if evidence is not None:
        found += [second_backward(evidence, tr), graphs_per_loop(evidence, tr)]
    return tuple(c for c in found if c is not None)


def _options(tr: Translations, *choices: tuple[str, str, bool, str]) -> tuple[Option, ...]:
    """Options from (key, text, correct, why); the feedback opens with the verdict."""
    right, wrong = tr.gettext("Right."), tr.gettext("Not this one.")
    said = tr.gettext("%(verdict)s %(why)s")  # a space between the sentences in English, none in Chinese
    return tuple(Option(key, text, correct, said % {"verdict": right if correct else wrong, "why": why})
                 for key, text, correct, why in choices)


# --------------------------------------------------------------------------- the student's run

def will_it_stop(q: StudentAnswer, tr: Translations) -> Checkpoint:
    """Would a bigger budget let ``loss < threshold`` pass, for a threshold below the floor?"""
    values = {"threshold": param(q.threshold), "floor": num(q.loss_floor), "lowest": num(q.lowest_loss),
              "budget": q.max_iters, "settle": q.settle_2px}
    never = q.threshold <= q.loss_floor  # loss < threshold never passes: a StudentAnswer exists only then
    values["gap"] = num(q.excess_at_end)  # in float64, as results.json has it (a float32 difference read 1.657e-5)
    picture = tr.gettext("Yes, at about iteration %(settle)s, where the window stops changing") % values \
        if q.settle_2px is not None else tr.gettext("Yes, where the window stops changing")
    return Checkpoint(
        name="will-it-stop", place="answer",
        question=tr.gettext("The course's window seems to stop well before the end. If the loop were given "
                            "ten times more iterations, would “loss < %(threshold)s” ever stop it?") % values,
        options=_options(
            tr,
            ("picture", picture, False,
             tr.gettext("What stops there is the picture: the loop runs all %(budget)s iterations, and its lowest "
                        "loss, %(lowest)s, never passes %(threshold)s.") % values),
            ("more", tr.gettext("Yes, with enough iterations: the loss keeps falling"), False,
             tr.gettext("The loss keeps falling, but towards %(floor)s, not towards 0: after %(budget)s iterations "
                        "it is only %(gap)s above that floor, and no number of steps takes it below.") % values),
            ("never", tr.gettext("No: no line has a loss that low on this data"), never,
             tr.gettext("The least-squares line is the best any line can do on these points, and its loss, the "
                        "floor, is %(floor)s: above %(threshold)s.") % values),
        ),
        reveal=tr.gettext("It never stops: the floor %(floor)s is above the threshold %(threshold)s, and the "
                          "lowest loss in %(budget)s iterations is %(lowest)s.") % values,
    )


# --------------------------------------------------------------------------- thresholds

def updates_before_stop(sweep: str, runs: Sequence[RunResult], tr: Translations) -> Checkpoint | None:
    """How many updates does a run whose starting loss already passes its threshold make? (The test comes after.)"""
    first = [r for r in runs if r.trajectory.stop_iteration == 0]
    if not first:
        return None
    r = first[0]
    t = r.trajectory
    values = {"threshold": param(r.spec.params.threshold), "start": num(t.initial_loss), "updates": t.updates,
              "w0": num(t.w[0]), "w1": num(t.updated_w)}
    choices = [("zero", tr.gettext("None: the loss is already below the threshold"), t.updates == 0,
                tr.gettext("The loop tests the loss after it has updated w and b: the first iteration computes "
                           "the loss %(start)s, updates, and only then stops: w moved from %(w0)s to %(w1)s.") % values),
               ("one", tr.gettext("One: the test comes after the update"), t.updates == 1,
                tr.gettext("The first iteration computes the loss %(start)s, updates w from %(w0)s to %(w1)s, "
                           "then tests %(start)s < %(threshold)s and stops.") % values),
               ("many", tr.gettext("Many: gradient descent needs many steps"), t.updates > 1,
                tr.gettext("The starting loss %(start)s is already below %(threshold)s, so the first test passes, "
                           "after the first update.") % values)]
    return Checkpoint(
        name="updates-before-stop", place=f"sweep:{sweep}",
        question=tr.gettext("The starting loss is %(start)s. With “loss < %(threshold)s”, how many times does the "
                            "loop update w and b before it stops?") % values,
        options=_options(tr, *choices),
        reveal=tr.gettext("Updates before the stop: %(updates)s. The course's loop computes the loss, steps, and "
                          "tests the loss it computed before the step. The printed w, b are after the step; the loss is from "
                          "before it.") % values,
    )


def threshold_between(sweep: str, runs: Sequence[RunResult], tr: Translations) -> Checkpoint | None:
    """The stop for a threshold the grid does not run, read off the loss history of a run that passed it."""
    stopped = sorted((r for r in runs if r.trajectory.status == Status.STOPPED and r.trajectory.stop_iteration),
                     key=lambda r: -r.spec.params.threshold)
    if len(stopped) < 2 or not all(_same_data(r, runs[0]) for r in runs):
        return None
    hi, lo = max(zip(stopped, stopped[1:]), key=lambda p: p[1].trajectory.stop_iteration - p[0].trajectory.stop_iteration)
    wanted = _round_between(hi.spec.params.threshold, lo.spec.params.threshold)
    source = max(runs, key=lambda r: r.trajectory.iterations_run)
    loss, floor = source.trajectory.loss, source.analysis.loss_floor
    if wanted is None or wanted <= floor:  # checked before the loss is compared with it
        return None
    below = np.flatnonzero(loss < wanted)
    if not below.size:
        return None
    stop = int(below[0])
    s_hi, s_lo = hi.trajectory.stop_iteration, lo.trajectory.stop_iteration
    halfway = round((s_hi + s_lo) / 2)
    if abs(halfway - stop) < max(3, 0.05 * stop):
        return None  # the wrong reasoning would give the right count: no question to ask
    values = {"t": param(wanted), "hi": param(hi.spec.params.threshold), "lo": param(lo.spec.params.threshold),
              "s_hi": s_hi, "s_lo": s_lo, "halfway": halfway, "stop": stop, "floor": num(floor),
              "before": num(loss[stop - 1]), "at": num(loss[stop]), "prev": stop - 1,
              "source": param(source.spec.params.threshold)}
    pace = (tr.gettext("it falls fast while it is far above the floor %(floor)s and ever slower near it, so "
                       "%(t)s comes sooner than halfway") if stop < halfway else
            tr.gettext("it falls ever slower as it nears the floor %(floor)s, so %(t)s comes later than halfway")) % values
    values["pace"] = pace
    return Checkpoint(
        name="threshold-between", place=f"sweep:{sweep}",
        question=tr.gettext("Threshold %(hi)s stops at iteration %(s_hi)s and %(lo)s at %(s_lo)s. The grid has no "
                            "run with threshold %(t)s: where would it stop?") % values,
        options=_options(
            tr,
            ("halfway", tr.gettext("About iteration %(halfway)s, halfway between") % values, False,
             tr.gettext("The loss does not fall at a steady pace: %(pace)s, at iteration %(stop)s.") % values),
            ("measured", tr.gettext("At iteration %(stop)s") % values, True,
             tr.gettext("The loss is %(before)s at iteration %(prev)s and %(at)s at %(stop)s.") % values),
            ("never", tr.gettext("Never: it is too low to reach"), False,
             tr.gettext("%(t)s is above the loss floor %(floor)s, so some line has a lower loss, and gradient "
                        "descent reaches one at iteration %(stop)s.") % values),
        ),
        reveal=tr.gettext("Every run here shares its data, start and lr, so all follow one loss curve. The run with "
                          "threshold %(source)s passes %(t)s at iteration %(stop)s (loss %(at)s): %(pace)s.") % values,
    )


def _same_data(a: RunResult, b: RunResult) -> bool:
    return bool(np.array_equal(a.data.x, b.data.x) and np.array_equal(a.data.y, b.data.y))


def _round_between(hi: float, lo: float) -> float | None:
    """A round number strictly between two thresholds, near their geometric mean: 0.7 between 1 and 0.5."""
    middle = math.sqrt(hi * lo)
    for digits in range(1, 4):
        scale = 10 ** (math.floor(math.log10(middle)) - digits + 1)
        value = float(f"{round(middle / scale) * scale:.{digits}g}")
        if lo < value < hi:
            return value
    return None


# --------------------------------------------------------------------------- slopes

def first_slope(sweep: str, runs: Sequence[RunResult], tr: Translations) -> Checkpoint | None:
    """Which slope stops first? Decided from the counts, with the distances a 'further to go' guess relies on."""
    runs = sorted(runs, key=lambda r: r.spec.params.slope)
    counts = [r.trajectory.stop_iteration for r in runs]
    if len(runs) < 2 or None in counts or counts.count(min(counts)) > 1 or len(runs) > 6:
        return None
    first = runs[counts.index(min(counts))]
    errors = [start_error(r) for r in runs]
    distances = [e.distance for e in errors]
    follows_distance = _counts_follow(distances, counts)
    listing = tr.gettext(", ").join(f"{param(r.spec.params.slope)} → {c}" for r, c in zip(runs, counts))
    far = tr.gettext(", ").join(f"{param(r.spec.params.slope)}: {num(d)}" for r, d in zip(runs, distances))
    values = {"listing": listing, "far": far, "first": param(first.spec.params.slope), "count": min(counts)}
    options = []
    for r, c in zip(runs, counts):
        v = {**values, "slope": param(r.spec.params.slope), "own": c}
        if r is first:
            why = tr.gettext("Slope %(slope)s stops first, at iteration %(own)s. All counts: %(listing)s.") % v
        elif not follows_distance:
            why = tr.gettext("Slope %(slope)s stops at %(own)s; slope %(first)s is first, at %(count)s. How far the "
                             "start is from the best line does not decide it: the distances are %(far)s.") % v
        else:
            why = tr.gettext("Slope %(slope)s stops at %(own)s; slope %(first)s is first, at %(count)s.") % v
        options.append((f"slope-{param(r.spec.params.slope)}", tr.gettext("slope = %(slope)s") % v, r is first, why))
    same_start = len({e.start for e in errors}) == 1
    slow = [modes_of(r).excess_slow for r in runs]
    values["slow"] = tr.gettext(", ").join(f"{param(r.spec.params.slope)}: {num(e)}" for r, e in zip(runs, slow))
    reveal = tr.gettext("Stop iterations: %(listing)s.") % values
    if same_start:
        reveal += " " + tr.gettext("Every slope starts from the same w and b (the seed draws the same w), and the "
                                   "distance from there to each best line is %(far)s.") % values
    if same_start and not follows_distance:
        reveal += " " + tr.gettext("The counts do not follow those distances.")
    if _counts_follow(slow, counts):
        reveal += " " + tr.gettext("They follow the part of the starting loss that lies along the slow direction, "
                                   "which each step shrinks least: %(slow)s.") % values
    return Checkpoint(
        name="first-slope", place=f"sweep:{sweep}",
        question=tr.gettext("Same data noise, same start, same lr: only the true slope changes. Which slope stops "
                            "first?"),
        options=_options(tr, *options), reveal=reveal,
    )


def _counts_follow(keys: Sequence[float], counts: Sequence[int]) -> bool:
    """True when sorting the runs by ``keys`` sorts their counts too (equal counts in any order)."""
    return [counts[i] for i in sorted(range(len(keys)), key=lambda i: keys[i])] == sorted(counts)


# --------------------------------------------------------------------------- learning rates

def largest_lr(sweep: str, runs: Sequence[RunResult], tr: Translations) -> Checkpoint | None:
    """What does the largest lr do, against the one below it? Decided from its status and the stability bound."""
    runs = sorted(runs, key=lambda r: r.spec.params.lr)
    if len(runs) < 2 or runs[-2].trajectory.status != Status.STOPPED:
        return None
    prev, top = runs[-2], runs[-1]
    t, a = top.trajectory, top.analysis
    signed = 1 - top.spec.params.lr * a.hessian_eigenvalues[1]  # what a step multiplies the steep error by
    fast = abs(signed)
    values = {"lr": param(top.spec.params.lr), "prev": param(prev.spec.params.lr),
              "s_prev": prev.trajectory.stop_iteration, "bound": num(a.lr_max), "factor": num(fast),
              "signed": num(signed),
              "stop": t.stop_iteration, "diverged": t.diverged_at, "budget": top.spec.params.max_iters,
              "pct": num(100 * (top.spec.params.lr / prev.spec.params.lr - 1), 2)}
    if t.status == Status.DIVERGED:
        truth = "diverges"
        outcome = tr.gettext("lr = %(lr)s diverged at iteration %(diverged)s.") % values
        if fast > 1 and closed_form(top.spec.params):  # 1 − lr·λmax is a plain full-batch step's factor only
            outcome += " " + tr.gettext("It is above 2/λmax = %(bound)s, so each step multiplies the error along the "
                                        "steep direction by 1 − lr·λmax = %(signed)s: the error flips side and its "
                                        "size grows %(factor)s-fold a step. A longer step helps only below that "
                                        "bound.") % values
    elif t.status == Status.BUDGET_EXHAUSTED:
        truth = "budget"
        outcome = tr.gettext("lr = %(lr)s ran its %(budget)s iterations without stopping.") % values
    else:
        truth = "sooner" if t.stop_iteration < prev.trajectory.stop_iteration else "later"
        outcome = tr.gettext("lr = %(lr)s stopped at iteration %(stop)s, against %(s_prev)s for lr = "
                             "%(prev)s.") % values
        if fast < 1 and closed_form(top.spec.params):
            outcome += " " + tr.gettext("It is below 2/λmax = %(bound)s, where each step multiplies the error along "
                                        "the steep direction by 1 − lr·λmax = %(signed)s, whose size %(factor)s is "
                                        "below 1.") % values
    choices = [("sooner", tr.gettext("It stops sooner than lr = %(prev)s (%(s_prev)s iterations)") % values),
               ("later", tr.gettext("It stops later than lr = %(prev)s") % values),
               ("budget", tr.gettext("It never reaches the threshold in its budget") % values),
               ("diverges", tr.gettext("The loss blows up: it diverges"))]
    return Checkpoint(
        name="largest-lr", place=f"sweep:{sweep}",
        question=tr.gettext("lr = %(prev)s stops at iteration %(s_prev)s. lr = %(lr)s is only %(pct)s %% larger. "
                            "What does it do?") % values,
        options=_options(tr, *((key, text, key == truth, outcome) for key, text in choices)),
        reveal=outcome,
    )


# --------------------------------------------------------------------------- graphs

def second_backward(evidence: GraphEvidence, tr: Translations) -> Checkpoint:
    """w.grad after two backward passes of one loss without zero_(): the sum, as captured."""
    acc = evidence.accumulation
    once, twice = acc.grad_once[0], acc.grad_twice[0]
    values = {"once": num(once), "twice": num(twice), "double": num(2 * once)}
    is_sum = math.isclose(twice, 2 * once, rel_tol=1e-5)
    is_same = math.isclose(twice, once, rel_tol=1e-5)
    seen = tr.gettext("This build captured w.grad = %(once)s after one backward() and %(twice)s after the "
                      "second.") % values
    return Checkpoint(
        name="second-backward", place="graphs:accumulation",
        question=tr.gettext("One backward() leaves w.grad = %(once)s. Without grad.zero_(), a second backward() of "
                            "the same loss leaves w.grad = ?") % values,
        options=_options(
            tr,
            ("same", tr.gettext("%(once)s: the gradient is recomputed") % values, is_same,
             seen + " " + tr.gettext("backward() adds to .grad; it never overwrites it.")),
            ("sum", tr.gettext("%(double)s: the two gradients add up") % values, is_sum,
             seen + " " + tr.gettext("backward() adds to .grad: that is why the loop calls zero_().")),
            ("zero", tr.gettext("0: the second call cancels the first"), math.isclose(twice, 0.0, abs_tol=1e-12),
             seen),
        ),
        reveal=seen,
    )


def graphs_per_loop(evidence: GraphEvidence, tr: Translations) -> Checkpoint:
    """How many autograd graphs two iterations build: one per forward pass, as captured."""
    dyn = evidence.dynamic
    values = {"root": dyn.grad_fn_names[0], "same": not dyn.grad_fn_distinct}
    seen = tr.gettext("This build ran two iterations and asked loss_1.grad_fn is loss_2.grad_fn: %(same)s. Both "
                      "roots are a %(root)s.") % values
    return Checkpoint(
        name="graphs-per-loop", place="graphs:dynamic",
        question=tr.gettext("The course's loop runs its forward pass twice. How many autograd graphs does PyTorch "
                            "build?"),
        options=_options(
            tr,
            ("one", tr.gettext("One, built on the first pass and reused"), not dyn.grad_fn_distinct,
             seen + " " + tr.gettext("A graph built once and reused is a static graph: PyTorch records a new one "
                                     "on every forward pass.")),
            ("two", tr.gettext("Two: one per forward pass"), dyn.grad_fn_distinct,
             seen + " " + tr.gettext("Each forward pass records its own graph, and backward() frees it.")),
            ("none", tr.gettext("None until backward() is called"), False,
             seen + " " + tr.gettext("The graph exists as soon as the loss is computed: its root is loss.grad_fn.")),
        ),
        reveal=seen,
    )
