"""Throwaway databases for the volume benchmarks: per size, a SQLite file and a database of one
temporary PostgreSQL cluster, each migrated and seeded with the unit network (``seed_volume.prepare``)."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.seed_volume import prepare
from jianyi.runtime.postgres import TemporaryPostgres


@contextmanager
def databases(group: str, sizes: list[str]) -> Iterator[dict[tuple[str, str], str]]:
    """(backend, size) → URL, removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"jianyi-bench-{group}-") as directory:
        cluster = TemporaryPostgres().start()
        try:
            urls = {}
            for size in sizes:
                urls[("sqlite", size)] = f"sqlite:///{Path(directory) / f'{group}-{size}.db'}"
                urls[("postgresql", size)] = cluster.create_database(f"{group}_{size}")
            for url in urls.values():
                prepare(url)
            yield urls
        finally:
            cluster.stop()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) > 1 else samples[0]
