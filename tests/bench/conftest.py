"""tests/bench is the benchmark, not a test suite: pytest collects nothing here
(the one CI check of the harness is tests/test_bench_smoke.py)."""
collect_ignore_glob = ["*"]
