"""The benchmark (issue 7): ``python -m tests.bench.run`` (see run.py)."""
