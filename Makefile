# Two commands: `make run` (set up what is missing, start PostGIS, migrate, load the demo town,
# serve on 127.0.0.1:8000) and `make test` (the same set-up plus test packages, `make lint`, the front end's
# unit tests (vitest, about a second), then the suite).
CIVICGRID := .venv/bin/civicgrid
PYTEST_ARGS ?=

.PHONY: run test lint setup setup-test bench bench-ogc bench-processes bench-cases bench-survey bench-search bench-web bench-assessment bench-evaluation bench-exchange bench-replica

run: setup
	@$(CIVICGRID) db start
	@$(CIVICGRID) db migrate
	@$(CIVICGRID) demo load --if-empty
	@$(CIVICGRID) user demo
	@$(CIVICGRID) basemap build
	@echo "civicgrid: serving on http://$${CIVICGRID_HOST:-127.0.0.1}:$${CIVICGRID_PORT:-8000}/ (Ctrl-C stops)"
	@exec $(CIVICGRID) serve

test: lint
	cd web && npm test --silent
	.venv/bin/pytest $(PYTEST_ARGS)

# ruff (configuration in pyproject.toml): pyflakes, pycodestyle, import order, bugbear, complexity
lint: setup-test
	.venv/bin/ruff check .

setup:
	@bash scripts/setup.sh run

setup-test:
	@bash scripts/setup.sh test

# Benchmarks (bench/*/README or module docstrings): each prints a table, our numbers beside the peers'.
BENCH_ENV := CIVICGRID_DATA_DIR=$(CURDIR)/.data/bench CIVICGRID_PG_PORT=55090

setup-bench: setup
	@bash scripts/setup.sh bench

bench: bench-ogc bench-processes bench-cases bench-survey bench-search bench-web bench-assessment bench-evaluation bench-exchange bench-replica

bench-ogc: setup-bench
	.venv/bin/python -m bench.ogc

bench-processes: setup-bench
	$(BENCH_ENV) $(CIVICGRID) db start
	$(BENCH_ENV) $(CIVICGRID) db migrate
	$(BENCH_ENV) $(CIVICGRID) demo load --if-empty
	$(BENCH_ENV) .venv/bin/python bench/processes/run.py

bench-cases: setup-bench setup-test
	.venv/bin/python bench/cases/run.py --workers 2

bench-survey: setup-bench
	.venv/bin/python bench/survey/bench.py

bench-search: setup
	$(BENCH_ENV) $(CIVICGRID) db start
	$(BENCH_ENV) $(CIVICGRID) db migrate
	$(BENCH_ENV) $(CIVICGRID) demo load --if-empty
	$(BENCH_ENV) .venv/bin/python bench/search/run.py

bench-web: setup-test
	$(BENCH_ENV) $(CIVICGRID) db start
	$(BENCH_ENV) $(CIVICGRID) db migrate
	$(BENCH_ENV) $(CIVICGRID) demo load --if-empty
	$(BENCH_ENV) $(CIVICGRID) basemap build
	$(BENCH_ENV) .venv/bin/python -m bench.web

bench-assessment: setup
	$(BENCH_ENV) $(CIVICGRID) db start
	$(BENCH_ENV) $(CIVICGRID) db migrate
	$(BENCH_ENV) $(CIVICGRID) demo load --if-empty
	$(BENCH_ENV) .venv/bin/python bench/assessment/run.py

bench-evaluation: setup
	$(BENCH_ENV) $(CIVICGRID) db start
	$(BENCH_ENV) $(CIVICGRID) db migrate
	$(BENCH_ENV) $(CIVICGRID) demo load --if-empty
	$(BENCH_ENV) .venv/bin/python bench/evaluation/run.py

bench-exchange: setup
	.venv/bin/python bench/exchange/run.py

bench-replica: setup-bench
	.venv/bin/python bench/replica/run.py
