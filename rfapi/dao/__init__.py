"""Data-access functions: the SQL of each resource (raw, parameterized)."""
