"""Benchmarks that print their figures; each module has `main()` and runs as `python -m bench.<name>`."""
