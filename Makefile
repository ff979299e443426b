# reportgen: two commands for a fresh machine.
#   make report   install, then build the site from the built-in config
#   make test     install with the test extras, then run the whole test suite
#   make catalogs re-extract the report's messages and merge them into every translation
#   make golden   rewrite tests/golden/ after an intended change to the tiny project's numbers or words
#
# TORCH chooses the PyTorch build. The default, torch==2.13.0, is a CPU wheel;
# on another platform pass e.g. TORCH="torch==2.5.1" or TORCH="torch" (with
# --index-url in PIP_ARGS for a CPU-only index). torch is installed first, so
# the project's own requirement (torch>=2.1) never pulls another build.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PIP_ARGS ?=
ARGS ?=
BIN := $(VENV)/bin

.PHONY: report test install install-test browser catalogs golden clean

report: install
	$(BIN)/reportgen build $(ARGS)

test: install-test browser
	$(BIN)/python -m pytest $(ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The package is installed editable; compileall writes its bytecode once, as a wheel install would,
# so that no command pays for compiling it (PYTHONDONTWRITEBYTECODE stops Python from caching it).
install: $(BIN)/python
	$(BIN)/python -m pip install -q $(PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e .
	$(BIN)/python -m compileall -q reportgen

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q $(PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e ".[test]"
	$(BIN)/python -m compileall -q reportgen

# Rewrite tests/golden/ from the tiny project after an intended change to its numbers or words.
golden: install-test
	REPORTGEN_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py

# The browser tests drive Debian's chromium (Playwright's own browser download is not used).
# No system CJK font is needed: Chinese pages carry their own (a test hides the system's from chromium).
# The animation tests read every MP4 back with ffprobe, from Debian's ffmpeg (reportgen itself needs none:
# imageio-ffmpeg ships its encoder).
browser:
	@if ! command -v ffprobe >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "note: install Debian's ffmpeg (ffprobe) to run the animation tests"; fi; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: install Debian's chromium (/usr/bin/chromium) to run the browser tests"; fi; \
	fi

# Messages come from the templates, the Python code and the built-in config (babel.cfg). After
# this, translate the new and fuzzy entries of reportgen/locale/*/LC_MESSAGES/reportgen.po;
# tests/test_i18n.py fails while one is missing. No .mo is made: a build compiles the .po in memory.
catalogs: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --width 100 \
	  --project reportgen --copyright-holder "reportgen authors" -o reportgen/locale/reportgen.pot .
	$(BIN)/pybabel update -i reportgen/locale/reportgen.pot -d reportgen/locale -D reportgen \
	  --width 100 --ignore-obsolete

clean:
	rm -rf $(VENV) outputs/site build dist *.egg-info
