"""Settings for every jianyi process, read from the environment (prefix ``JIANYI_``).

One class, one place: the API, the executor, the CLI and the tests all read the same
fields, so a data directory or a port is changed once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIANYI_", extra="ignore")

    home: Path = Field(
        default=Path("var"),
        description="Data directory: the SQLite database, the Prefect server's home, the SMTP and SMS sinks, logs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the application database; defaults to a SQLite file in the data directory.",
    )
    host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    port: int = Field(default=8700, description="Port of the HTTP API.")
    api_workers: int = Field(
        default=1,
        ge=1,
        description=(
            "API processes behind the one port (uvicorn's workers). One process runs Python on one core "
            "at a time: more processes take larger bursts of intakes when there are cores for them."
        ),
    )
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "Added to the niceness of the Prefect servers jianyi starts, so that on a busy machine the "
            "API and the executor run first; 0 runs them at the API's priority. The executor is not "
            "lowered: on SQLite it holds the write lock the API's writes wait for."
        ),
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL proposers are sent to for tracking; defaults to http://HOST:PORT.",
    )
    prefect_port: int = Field(
        default=4200,
        description="Port of the embedded Prefect server that `jianyi up` starts when PREFECT_API_URL is unset.",
    )
    smtp_host: str = Field(
        default="127.0.0.1", description="SMTP server the outbox dispatcher sends through."
    )
    smtp_port: int = Field(default=8025, description="Port of that SMTP server.")
    smtp_timeout_seconds: float = Field(default=10.0, description="Timeout of one SMTP conversation.")
    sms_gateway_url: str | None = Field(
        default=None,
        description=(
            "HTTP endpoint of the SMS gateway the outbox dispatcher POSTs text messages to; "
            "unset, text messages are not sent but stay pending in the outbox, for the office to see."
        ),
    )
    sms_timeout_seconds: float = Field(default=10.0, description="Timeout of one request to the SMS gateway.")
    mail_from: str = Field(
        default="人民建议征集办公室 <noreply@jianyi.localhost>",
        description="Sender of every message to proposers.",
    )
    executor_concurrency: int = Field(
        default=16, description="How many flow-run attempts one executor runs at once."
    )
    executor_prefect_writes: int = Field(
        default=3,
        ge=0,
        description=(
            "Writes to the Prefect server (a run's creation, Running, Suspended) one executor has in "
            "flight at once; 0 for no limit. A Prefect server on SQLite writes one transaction at a "
            "time, so the rest queue here, first come first served, rather than in SQLite's busy "
            "handler. The scale-out profile, on PostgreSQL, sets 0."
        ),
    )
    executor_intake_burst_per_s: float = Field(
        default=20.0,
        ge=0,
        description=(
            "Suggestions received per second above which intake is in a burst: the executor then "
            "holds back starting their runs (a creation in Prefect and a first attempt, each several "
            "times an intake's work) and the outbox's deliveries, so that every intake is answered at "
            "once; 0 never holds."
        ),
    )
    executor_intake_burst_hold_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "The longest the executor holds back run starts and deliveries for one intake burst; a "
            "burst that lasts longer then has its runs started for as long before they are held again."
        ),
    )
    executor_poll_seconds: float = Field(
        default=0.5, description="How often the executor looks for runs to start, resume and claim."
    )
    executor_lease_seconds: float = Field(
        default=30.0,
        description="An executor silent for this long is presumed dead; its claimed runs are recovered.",
    )
    prefect_run_retention_days: int = Field(
        default=30,
        ge=0,
        description=(
            "Days after a suggestion closes that its flow run is deleted from Prefect (the case, its "
            "steps and audit stay in jianyi's database for good); 0 keeps them forever."
        ),
    )
    prefect_database_url: str | None = Field(
        default=None,
        description=(
            "Database of the Prefect server, for `jianyi backup` and `jianyi restore`; defaults to the "
            "SQLite file of the server `jianyi up` starts in the data directory (prefect/prefect.db)."
        ),
    )
    personal_data_retention_days: int = Field(
        default=183,
        ge=0,
        description=(
            "Days after a suggestion closes that its proposer's personal data (name, phone, e-mail, "
            "address, in the case, its messages and generated files) is replaced by a tombstone; the "
            "case, its figures and its audit stay. 0 keeps them forever."
        ),
    )
    dispatcher_poll_seconds: float = Field(default=1.0, description="How often the outbox dispatcher looks.")
    dispatcher_max_attempts: int = Field(
        default=12, description="Attempts before a message is parked as failed for the office to look at."
    )
    rules_dir: Path | None = Field(
        default=None,
        description="Directory of rule files (*.yaml); defaults to the packaged jianyi/rules/defaults.",
    )
    sweep_seconds: float = Field(
        default=30.0, description="How often the rules' scheduler sweeps for due reminders and escalations."
    )
    token_days: int = Field(
        default=90,
        ge=1,
        description=(
            "Days an official's bearer token is valid from its creation or rotation (`jianyi users "
            "rotate`); an expired token is refused (401)."
        ),
    )
    deployment_name: str = Field(default="lifecycle", description="Name of the lifecycle deployment.")
    reports_scheduled: bool = Field(
        default=True,
        description=(
            "The executor makes the periodic reports on their schedules (Asia/Shanghai) and catches up "
            "on any it missed; false leaves them to `jianyi reports run` (the tests' systems)."
        ),
    )
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    node_modules: Path = Field(
        default=Path(__file__).resolve().parents[1] / "node_modules",
        description="Where `npm ci` put the web pages' front-end files (package-lock.json), served under /static.",
    )
    figures_max_age_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "The oldest the figures of the supervision board and /api/figures may be, in seconds: one "
            "snapshot a period and scope, shared by every request of an API process and recomputed in "
            "the background once older (the pages say when they were computed); 0 computes every time."
        ),
    )
    session_hours: float = Field(
        default=8.0,
        gt=0,
        description="How long an official's web session lasts without use before it expires.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'jianyi.db').resolve()}"

    @property
    def resolved_prefect_database_url(self) -> str:
        if self.prefect_database_url:
            return self.prefect_database_url
        return f"sqlite+aiosqlite:///{(self.home / 'prefect' / 'prefect.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
