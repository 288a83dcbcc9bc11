# The commands CI runs (.ci/run), for local use.
.PHONY: setup test lint generate ci

setup:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

test:
	.venv/bin/pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy --strict src
	.venv/bin/python tools/unasync.py --check

generate:
	.venv/bin/python tools/unasync.py

ci:
	bash .ci/run
