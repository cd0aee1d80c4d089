# crm_lab: `make demo` then `make test` on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lab bench fonts browser env clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,spark]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (crm_lab)" >/dev/null
	touch $(STAMP)

env: $(STAMP) fonts

# Chinese glyphs in figures need a CJK font: Debian's fonts-noto-cjk, installed where we can
# (root with apt); elsewhere crm_lab warns in one line and labels show as boxes.
fonts:
	@if fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing fonts-noto-cjk (Chinese labels in figures)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null) \
		|| echo "warning: could not install fonts-noto-cjk; Chinese labels will show as boxes"; \
	else echo "note: install fonts-noto-cjk (e.g. sudo apt-get install fonts-noto-cjk) for Chinese labels in figures"; fi

# The browser test renders a report in headless Chromium (Debian's chromium), installed where we
# can; `pytest -m "not browser"` deselects it.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (browser test of the HTML reports)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; the browser test will fail (deselect: -m 'not browser')"; \
	else echo "note: install chromium (e.g. sudo apt-get install chromium) for the browser test"; fi

demo: env
	$(VENV)/bin/crm-lab demo --parallel 2

test: env browser
	$(PY) -m pytest

test-fast: env
	$(PY) -m pytest -m "not spark and not slow and not browser" -n 2

lab: env
	$(VENV)/bin/jupyter lab notebooks/

bench: env
	$(PY) bench/summary.py
	$(PY) bench/simulate.py
	$(PY) bench/clv.py
	$(PY) bench/assoc.py
	$(PY) bench/audience.py
	$(PY) bench/uplift.py

clean:
	rm -rf $(VENV) data reports/*/ reports/index.html .pytest_cache quarantine
