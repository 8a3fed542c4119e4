"""Benchmarks of jianyi: run on demand (`make bench`), never in CI. Each figure is printed beside a
baseline measured in the same run, as a ratio: absolute times on a shared machine mislead."""
