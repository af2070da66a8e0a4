"""The benchmark's sections, one per route group, as mixins on ``Harness``
(``tests.bench.run.Bench`` composes them). Each appends its rows to
``self.results`` and reports a route that does not exist as "missing"."""
