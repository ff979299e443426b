"""How numbers and runs are written, everywhere: pages, explanations, frames and figures.

Two kinds of number appear in a report. A *parameter* is what a user typed
(``lr = 0.057``, ``threshold = 10``): it is written back compactly and exactly, so
it reads as typed and doubles as a run id. A *measurement* (a loss, a floor, an
eigenvalue) is written to a fixed number of significant digits, trailing zeros
kept, so 0.9990 and 1.760 say how precise they are.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

#: What a page shows for a number that does not exist (no stop, an infinite loss).
MISSING = "—"
#: Significant digits of a measurement, unless a caller asks for more.
DIGITS = 4


def param(value: Any) -> str:
    """Write a parameter value compactly and round-trippably (0.1, 1e-05, 5)."""
    if isinstance(value, bool):  # as TOML writes it
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def num(value: float | int | None, digits: int = DIGITS) -> str:
    """Write a measurement to ``digits`` significant digits, trailing zeros kept (0.9990, 1.760e6)."""
    if value is None or isinstance(value, bool):
        return MISSING
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return MISSING
    if value == 0:
        return "0"
    rounded = float(f"{value:.{digits - 1}e}")  # rounding first: 9.99996 becomes 10.00, not 9.99996
    exponent = math.floor(math.log10(abs(rounded)))
    if -4 <= exponent < digits + 2:
        return f"{rounded:.{max(digits - 1 - exponent, 0)}f}"
    mantissa, power = f"{rounded:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(power)}"


def fixed(value: float, decimals: int = 4, overflow: str = MISSING) -> str:
    """Write a number with a fixed count of decimals, for text that must not jump about in a frame; from 1e5 on,
    as :func:`num` writes it in the tables (7.535e6, not 7535000)."""
    value = float(value)
    if not math.isfinite(value):
        return overflow
    if abs(value) >= 1e5:
        return num(value)
    return f"{value:.{decimals}f}"


def run_label(varied: Mapping[str, Any]) -> str:
    """Name a run by what its sweep varies, as a reader says it: "slope = 5, lr = 0.057"."""
    return ", ".join(f"{key} = {param(value)}" for key, value in varied.items())


#: A megabyte and a kilobyte, everywhere reportgen counts sizes (the budgets, --max-size, what it prints): SI units.
MB = 1_000_000
KB = 1_000


def megabytes(size: float) -> str:
    """Write a size as the command line prints it: 9.0 MB, or 240 KB below a tenth of a megabyte."""
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / KB:.0f} KB"


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float) -> str:
    """Write a power of ten as a reader does: 1e6 -> 10⁶, 0.01 -> 10⁻²."""
    return "10" + str(round(math.log10(value))).translate(SUPERSCRIPTS)
