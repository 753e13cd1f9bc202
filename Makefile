# Two entry points a presenter or a new engineer needs; each installs what it uses.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: rehearse render test install

# The images' exact pins constrain the venv too, so the suite runs with the versions the gateway
# and stand-in images install (tests/gateway/test_image_pins.py, tests/images/test_standin_pins.py)
# and a new upstream release cannot turn a fresh clone red overnight; bump them there, deliberately.
PINS := images/standin-requirements.txt gateway/requirements.txt
$(VENV)/.installed: pyproject.toml $(PINS)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(addprefix -c ,$(PINS)) -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The audience page the gateway serves in a rehearsal (needs Node; rebuilt when the page changes).
web/dist/index.html: web/package-lock.json web/index.html $(shell find web/src -type f 2>/dev/null)
	cd web && npm ci --no-audit --no-fund && npm run build

rehearse: install web/dist/index.html
	$(VENV)/bin/tubedemo rehearse

render: install
	$(VENV)/bin/tubedemo render -o out/

# Everything the suite needs (apt packages, control plane, CRDs, page, ...) is prepared first,
# idempotently (scripts/prepare-tests, one line per step); then a missing prerequisite fails its
# tests instead of skipping them (TUBEDEMO_REQUIRE_PREPARED=1, see tests/prepared.py).
# The nox sessions run in .venv (--no-venv --no-install, its bin/ first on PATH): `install`
# just made it from pyproject.toml's dev extra, which holds every tool the three sessions
# install, so a fresh clone installs once instead of three times.
test: install
	$(PY) scripts/prepare-tests
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" TUBEDEMO_REQUIRE_PREPARED=1 \
		$(VENV)/bin/nox --no-venv --no-install -s lint typecheck tests
