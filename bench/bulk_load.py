"""Bulk loading of generated rows into an application database, for the benchmarks' seeders.

One transaction per database, written by a thread of its own while the next chunk is generated.
SQLite takes executemany of rows already in their stored form; PostgreSQL takes COPY. Secondary
indexes are dropped for the load and rebuilt after it (sorting once is far cheaper than millions of
random B-tree inserts); PostgreSQL's foreign-key triggers are off during the load, the rows being
consistent by construction.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table, create_engine

Row = tuple[Any, ...]


class BulkLoader:
    """One database being loaded, in one transaction, by a thread of its own: SQLite's executemany and
    PostgreSQL's server work while the next chunk is being generated."""

    def __init__(self, url: str, tables: list[Table]) -> None:
        self.tables = tables
        self.columns = {t.name: [c.name for c in t.columns] for t in tables}
        self.engine = create_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.conn = self.engine.connect()
        self.transaction = self.conn.begin()
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.pending: Future[None] | None = None
        if self.postgres:
            self.conn.exec_driver_sql("SET session_replication_role = replica")  # no FK triggers for the load
        else:
            self.conn.exec_driver_sql("PRAGMA cache_size = -400000")  # 400 MB for the index builds
        for table in self.tables:
            for index in table.indexes:
                index.drop(self.conn)

    def write(self, rows: dict[str, list[Row]]) -> None:
        self.wait()  # one chunk in flight: memory stays bounded, the connection single-threaded
        self.pending = self.worker.submit(self._write, rows)

    def wait(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def _write(self, rows: dict[str, list[Row]]) -> None:
        for name, chunk in rows.items():
            columns = ", ".join(self.columns[name])
            if not self.postgres:  # one executemany per chunk, the values already in their stored form
                self.conn.exec_driver_sql(
                    f"INSERT INTO {name} ({columns}) VALUES ({', '.join('?' * len(self.columns[name]))})",
                    chunk,
                )
                continue
            raw: Any = self.conn.connection.dbapi_connection  # psycopg's own: COPY is its own protocol
            with raw.cursor() as cursor, cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)

    def finish(self) -> None:
        self.wait()
        self.worker.shutdown()
        for table in self.tables:
            for index in table.indexes:
                index.create(self.conn)
        if self.postgres:
            self.conn.exec_driver_sql("SET session_replication_role = DEFAULT")
            for name in self.columns:  # ids were given explicitly: move the sequences past them
                self.conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"
                )
        self.transaction.commit()
        self.conn.close()
        if self.postgres:
            # What autovacuum does after a bulk load: statistics, and the visibility map of index-only scans.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        self.engine.dispose()
