# The two commands of README.md: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash

.PHONY: setup demo test test-unit lint
setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

test-unit: setup
	source scripts/env.sh && python -m pytest -q tests/unit

lint:
	bash scripts/nextflow_lint.sh
	bash scripts/nf_core_lint.sh
