"""reportgen: the gradient-descent linear-regression lesson as an animated static report."""

__version__ = "0.1.0"
