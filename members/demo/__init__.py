"""Demo data: the story `make run` shows (``data``) and the set-based loader of large data sets for demos on PostgreSQL and the benchmarks (``loader``)."""
