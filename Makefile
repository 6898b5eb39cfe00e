# Two commands: `make run` (set up what is missing, start PostGIS, migrate, load the demo town,
# serve on 127.0.0.1:8000) and `make test` (the same set-up plus test packages, then the suite).
CIVICGRID := .venv/bin/civicgrid
PYTEST_ARGS ?=

.PHONY: run test setup setup-test db serve bench-ogc bench-processes bench-cases bench-survey

run: setup
	@$(CIVICGRID) db start
	@$(CIVICGRID) db migrate
	@$(CIVICGRID) demo load --if-empty
	@echo "civicgrid: serving on http://$${CIVICGRID_HOST:-127.0.0.1}:$${CIVICGRID_PORT:-8000}/ (Ctrl-C stops)"
	@exec $(CIVICGRID) serve

test: setup-test
	.venv/bin/pytest $(PYTEST_ARGS)

setup:
	@bash scripts/setup.sh run

setup-test:
	@bash scripts/setup.sh test
