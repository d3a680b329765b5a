# esxi.customizer — the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/build
COLLECTIONS := $(BUILD)/collections
DEMO := $(BUILD)/demo
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# one simulator state (and so one set of ports) per checkout: two copies of `make test` do not meet
export VCSIM_STATE_DIR ?= $(BUILD)/vcsim

.PHONY: run test package docs matrix venv sysdeps collection demo-inputs style format fuzz sanity units integration lint pytest services-start services-stop clean

## run: install everything, generate the embedded demo inputs and run build_esxi.yml on them
run: venv sysdeps collection demo-inputs
	ansible-playbook build_esxi.yml -e @examples/demo.yml
	@echo "Demo results are in $(DEMO)/output"

## test: style, sanity, units, integration and ansible-lint
test: venv sysdeps style sanity units integration lint package docs matrix
	@echo "make test: all stages passed"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

sysdeps:
	scripts/install-system-deps.sh

collection: venv
	rm -rf $(COLLECTIONS)/ansible_collections/esxi/customizer
	$(BIN)/ansible-galaxy collection install --force -p $(COLLECTIONS) $(CURDIR) >/dev/null
	@echo "Installed esxi.customizer into $(COLLECTIONS)"

demo-inputs: venv
	$(BIN)/python tests/fixturegen/demo.py $(DEMO)/inputs

## package: build the tarball; galaxy-importer, an install from it and ansible-builder must accept it
package: venv
	scripts/check-package.sh

## matrix: units on ansible-core 2.17, 2.18, 2.20 and 2.21 (Python 3.10-3.13), sanity on the oldest and newest
## (integration runs on the newest, in make integration)
matrix: venv
	mkdir -p $(BUILD)/matrix
	scripts/matrix.sh

## docs: the documentation site (antsibull-docs + Sphinx, warnings are errors) in build/docs/build/html
docs: venv collection
	scripts/build-docs.sh

## style: ruff lint and format check (configured in pyproject.toml)
style: venv
	$(BIN)/ruff check plugins tests bench scripts
	$(BIN)/ruff format --check plugins tests bench scripts

## format: apply ruff's formatting and safe fixes
format: venv
	$(BIN)/ruff check --fix plugins tests bench scripts
	$(BIN)/ruff format plugins tests bench scripts

sanity: venv
	scripts/ansible-test.sh sanity --requirements

units: venv
	scripts/ansible-test.sh units --requirements

## integration: the integration targets, once, on the newest ansible-core of the matrix (scripts/matrix.sh integration)
integration: venv sysdeps
	scripts/test-services.sh start
	rc=0; scripts/matrix.sh integration || rc=$$?; scripts/test-services.sh stop; exit $$rc

lint: venv collection
	$(BIN)/ansible-lint
	$(BIN)/antsibull-changelog lint
	cd $(COLLECTIONS)/ansible_collections/esxi/customizer && $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

## fuzz: every parser with 20,000 mutated inputs each (make test runs 1,000 each)
fuzz: venv
	ESXI_FUZZ_EXAMPLES=20000 scripts/pytest.sh -q tests/unit/plugins/module_utils/test_fuzz.py

## pytest: fast unit-test loop without ansible-test (same tests)
pytest: venv
	scripts/pytest.sh

clean:
	rm -rf $(BUILD) $(VENV) tests/output
