# The commands CI runs (.ci/run), and the full-size runs it leaves out, for local use.
DSN ?= postgresql://postgres@127.0.0.1:5432/postgres
.PHONY: setup test lint generate ci reliability-full bench bench-full screenshots topology

setup:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

test:
	PGQRS_TEST_DSN=$(DSN) .venv/bin/pytest -q

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy --strict src
	.venv/bin/python tools/unasync.py --check

generate:
	.venv/bin/python tools/unasync.py

ci:
	bash .ci/run

# The fault suite at full size (50,000-message churn, ...); writes the figures for docs/reliability.md.
reliability-full:
	PGQRS_RELIABILITY_SCALE=full PGQRS_RELIABILITY_REPORT=reliability-full.jsonl PGQRS_TEST_DSN=$(DSN) \
		.venv/bin/pytest -q tests/reliability
	.venv/bin/python -m tests.reliability.report reliability-full.jsonl

bench:
	.venv/bin/python -m benchmarks --dsn $(DSN)

# Everything docs/performance.md reports: all workloads, W7 up to 1M pending, memory.
bench-full:
	.venv/bin/python -m benchmarks --dsn $(DSN) --scale --scale-max 1000000 --memory --json bench.json

# The dashboard screenshots of docs/operations.md and the README (Debian's chromium).
screenshots:
	.venv/bin/python tools/dashboard_screenshots.py $(DSN)

# A fleet on network namespaces behind PgBouncer, and failovers to a replica (as root; see
# docs/scaling.md): prints the figures, writes docs/images/scaling.png. --short is CI's.
topology:
	bash deploy/topology/run.sh
