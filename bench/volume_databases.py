"""Throwaway databases for the volume benchmarks: per size, a SQLite file and a database of one
temporary PostgreSQL cluster, each migrated and seeded with the unit network (``seed_volume.prepare``)."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.seed_volume import Seeded, Volume, prepare, seed
from jianyi.db import make_engine
from jianyi.runtime.postgres import TemporaryPostgres

BACKENDS = ("sqlite", "postgresql")


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


def seed_sizes(
    urls: dict[tuple[str, str], str], sizes: dict[str, int], volume: Callable[[int], Volume]
) -> dict[str, Seeded]:
    """Each size's suggestions, the same rows into both backends' databases of that size."""
    seeded: dict[str, Seeded] = {}
    for size, count in sizes.items():
        seeded[size] = seed([u for (_, s), u in urls.items() if s == size], volume(count))
        print(f"   seeded {dict(seeded[size].counts)} into both in {seeded[size].seconds:.0f} s", flush=True)
    return seeded


@contextmanager
def sessions_by_size(
    urls: dict[tuple[str, str], str], backend: str, sizes: Iterable[str]
) -> Iterator[dict[str, sessionmaker[Session]]]:
    """size → sessions of that backend's database of that size; the engines disposed on exit."""
    engines = {size: make_engine(urls[(backend, size)]) for size in sizes}
    try:
        yield {size: sessionmaker(bind=e, expire_on_commit=False) for size, e in engines.items()}
    finally:
        for engine in engines.values():
            engine.dispose()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) > 1 else samples[0]
