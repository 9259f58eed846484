"""lockbot's benchmark, run by hand: `python bench/run.py` (see bench/README.md)."""
