import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reportgen.config import load_config  # noqa: E402
from reportgen.grid import expand_grid  # noqa: E402


@pytest.fixture(scope="session")
def default_config():
    return load_config()


@pytest.fixture(scope="session")
def default_specs(default_config):
    return expand_grid(default_config)
