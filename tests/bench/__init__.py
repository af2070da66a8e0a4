"""The benchmark: ``python -m tests.bench.run`` (see run.py)."""
