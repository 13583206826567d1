# Thin wrapper around tasks.py, which needs nothing but Python >= 3.11.
PYTHON ?= python3

.PHONY: test book lint env clean

test:
	$(PYTHON) tasks.py test

book:
	$(PYTHON) tasks.py book

lint:
	$(PYTHON) tasks.py lint

env:
	$(PYTHON) tasks.py env

clean:
	rm -rf _build c2f_runs
