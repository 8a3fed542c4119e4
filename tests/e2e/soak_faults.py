"""The fault soak's faults (tests/e2e/test_soak_e2e.py): a schedule drawn from the seed alone, and a
thread that plays it against a running system while the driver goes on submitting and answering.

Kills are SIGKILL (the executor, the API, the Prefect server's process group), then a start. The SMTP
and SMS sinks are stopped and started; the SMTP sink also *hangs*: a listener on its port accepts
each connection and says nothing, for a while. On the PostgreSQL profile the application database's
server restarts, fast (clients disconnected) or immediate (as a crash, recovered from its WAL).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.runtime.system import System

FAULTS = ("executor", "api", "prefect", "smtp", "smtp_hang", "sms")


@dataclass(frozen=True)
class Fault:
    after: float  # seconds after the previous fault ended (the first: after the start)
    kind: str
    seconds: float  # how long a sink is down or hangs, or PostgreSQL stays down
    mode: str = ""  # PostgreSQL's shutdown: fast or immediate


def schedule(seed: int, kinds: tuple[str, ...]) -> Iterator[Fault]:
    """The soak's faults, from the seed alone (the driver's timing does not change them): each kind
    once, in a shuffled order, then kinds at random; 1 to 3 s apart."""
    rng = random.Random(seed)
    first = rng.sample(kinds, len(kinds))
    while True:
        kind = first.pop() if first else rng.choice(kinds)
        yield Fault(rng.uniform(1, 3), kind, rng.uniform(1, 5), rng.choice(("fast", "immediate")))


class Stall:
    """A listener that accepts connections and never answers: an SMTP server hung."""

    def __init__(self, port: int) -> None:
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.server.settimeout(0.1)
        self.held: list[socket.socket] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="smtp-stall", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.held.append(connection)  # kept open, silent: the client waits for a greeting

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self.server.close()
        for connection in self.held:
            connection.close()


class Faults(threading.Thread):
    """Plays the schedule; what it did is counted in ``done``, and a failure kept in ``error``."""

    def __init__(
        self,
        system: System,
        kinds: tuple[str, ...],
        seed: int,
        seconds: float,
        postgres: TemporaryPostgres | None,
    ) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.system, self.postgres = system, postgres
        self.kinds, self.seed, self.seconds = kinds, seed, seconds
        self.done: Counter[str] = Counter()
        self.error: BaseException | None = None
        self.started_at = time.monotonic()
        self.lasted = 0.0  # seconds of faults, once over

    def run(self) -> None:
        """Every kind once, then more until ``seconds`` have passed."""
        self.started_at = time.monotonic()
        try:
            for number, fault in enumerate(schedule(self.seed, self.kinds)):
                if number >= len(self.kinds) and time.monotonic() - self.started_at >= self.seconds:
                    return
                time.sleep(fault.after)
                print(f"  {time.monotonic() - self.started_at:5.1f} s: {self._describe(fault)}", flush=True)
                self.inflict(fault)
                self.done[fault.kind if fault.kind != "postgres" else f"postgres {fault.mode}"] += 1
        except BaseException as exc:
            self.error = exc
        finally:
            self.lasted = time.monotonic() - self.started_at

    @staticmethod
    def _describe(fault: Fault) -> str:
        if fault.kind in ("smtp", "smtp_hang", "sms"):
            return f"{fault.kind} for {fault.seconds:.1f} s"
        if fault.kind == "postgres":
            return f"postgres {fault.mode} restart, down {fault.seconds:.1f} s"
        return f"kill -9 {fault.kind}"

    def inflict(self, fault: Fault) -> None:
        system = self.system
        if fault.kind == "executor":
            system.kill_executor()
            system.start_executor()
        elif fault.kind == "api":
            assert system.api is not None
            system.api.kill()
            system.api.wait(10)
            system.start_api(timeout=120)
        elif fault.kind == "prefect":
            assert system.prefect is not None
            system.prefect._kill()  # SIGKILL to its process group
            system.prefect.start()
        elif fault.kind == "smtp":
            system.sink.stop()
            time.sleep(fault.seconds)
            system.sink.start()
        elif fault.kind == "smtp_hang":
            system.sink.stop()
            stall = Stall(system.sink.port)
            time.sleep(fault.seconds)
            stall.close()
            system.sink.start()
        elif fault.kind == "sms":
            system.sms.stop()
            time.sleep(fault.seconds)
            system.sms.start()
        elif fault.kind == "postgres":
            assert self.postgres is not None
            self.postgres.restart(
                mode="immediate" if fault.mode == "immediate" else "fast", down=fault.seconds
            )
        else:
            raise ValueError(fault.kind)
