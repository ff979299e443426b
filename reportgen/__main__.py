"""Allow ``python -m reportgen``."""

from reportgen.cli import run

run()
