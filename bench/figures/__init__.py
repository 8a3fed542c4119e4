"""One module per group of figures; each exposes ``run(quick: bool) -> list[Figure]``."""
