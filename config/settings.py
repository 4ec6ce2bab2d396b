"""Settings models. Precedence: explicit overrides > environment > YAML file > defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from eventyard.config.durations import Duration
from eventyard.core.errors import ConfigError

__all__ = [
    "KafkaSettings",
    "StateSettings",
    "RecoverySettings",
    "PipelineSettings",
    "OperatorSpec",
    "EventyardSettings",
    "load_settings",
    "CONFIG_DIR",
]

CONFIG_DIR = Path(__file__).resolve().parent
ENV_PREFIX = "EVENTYARD_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    # How long commands wait for a TCP connection to a bootstrap server before they
    # give up, naming it (kafka-python alone waits ~30 s). Raise it for slow networks.
    connect_timeout: Duration = timedelta(seconds=5)
    # The pipeline source/sink client; "confluent" needs `pip install 'eventyard[fast]'`.
    # Admin, replay and dead-letter readers always use kafka-python.
    client: Literal["kafka-python", "confluent"] = "kafka-python"
    client_id: str = "eventyard"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    start_from: Literal["earliest", "latest"] = "earliest"
    # Records per read of one partition; 2x that may wait per partition. 1,000 kept
    # ~23 MB more RSS than 500 (12 partitions) and was no faster (benchmarks.md).
    max_poll_records: int = Field(default=500, ge=1)
    idle_backoff: Duration = timedelta(milliseconds=20)
    linger: Duration = timedelta(milliseconds=5)
    # Largest producer batch per partition, framing included. kafka-python's own
    # default (16 KB) split a bytewax batch's outputs into dozens of requests: 1 MB
    # ran the kafka-python saga 25% faster (docs/benchmarks.md). librdkafka's default,
    # and under Kafka's default message.max.bytes (1,048,588). A batch only grows this
    # big when outputs are waiting; `linger` still bounds how long one waits.
    batch_bytes: int = Field(default=1_000_000, ge=1024, le=4 << 20)
    topic_partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _sasl_complete(self) -> "KafkaSettings":
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "security_protocol SASL_* needs sasl_mechanism, sasl_username and sasl_password"
            )
        return self

    def client_options(self) -> dict[str, Any]:
        """kafka-python keyword arguments shared by consumers, producers and admin."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if (value := getattr(self, name)) is not None:
                opts[name] = str(value)
        return opts


class StateSettings(_Section):
    # One RocksDB store per task (input partition number) under it.
    dir: Path = Path("var/state")
    dedup_retention: Duration = timedelta(days=7)
    outbox_retention: Duration = timedelta(hours=1)
    history_size: int = Field(default=20, ge=0)
    max_parked: int = Field(default=100, ge=0)
    # Start a task with an empty store even though bytewax recovery knew it.
    rebuild_missing: bool = False
    # fsync each written store's write-ahead log when bytewax snapshots it, so a power
    # loss cannot lose writes older than the snapshot. Off: only for storage that
    # survives power loss by itself (battery-backed cache, replicated volume).
    sync_at_snapshot: bool = True
    # RocksDB memory per worker process, shared by all its task stores.
    memtable_budget_mb: int = Field(default=64, ge=8)
    block_cache_mb: int = Field(default=16, ge=8)
    # Decoded workflow records kept in memory per worker process (a few KB each),
    # shared by its task stores: an event of a recently active aggregate skips a
    # RocksDB read and a JSON decode. 0: none. 5,000 cost the engine nothing
    # against 10,000 (docs/benchmarks.md) and keep ~10-25 MB less at 1M open.
    record_cache: int = Field(default=5_000, ge=0)
    # Index and filter blocks of SST files in the block cache (bounded by it)
    # rather than held per open file, growing with the data.
    index_in_cache: bool = True
    # Bloom filter bits per key (0: none): a lookup of an absent key (every new
    # aggregate, every dedup check) skips the SST files that cannot hold it.
    bloom_bits_per_key: int = Field(default=10, ge=0, le=32)
    # The worker's C heap (glibc only): at most this many malloc arenas (0: glibc's
    # default, 8 per core), blocks from this many KB up mmapped and handed back when
    # freed (0: glibc's threshold, which rises as big blocks are freed), and free
    # heap pages handed back this often (0: never).
    malloc_arenas: int = Field(default=2, ge=0)
    malloc_mmap_threshold_kb: int = Field(default=1024, ge=0, le=32 * 1024)
    malloc_trim_interval: Duration = timedelta(seconds=30)


class RecoverySettings(_Section):
    dir: Path = Path("var/recovery")
    partitions: int = Field(default=4, ge=1)
    snapshot_interval: Duration = timedelta(seconds=5)
    backup_interval: Duration = timedelta(0)


class MetricsSettings(_Section):
    # Worker N serves Prometheus metrics on port + N; unset: no endpoint.
    port: int | None = Field(default=None, ge=1, le=65535)


class OperatorSpec(_Section):
    """An operator added by configuration: `use` is `package.module:ClassOrFactory`,
    called with `options` as keyword arguments."""

    use: str = Field(pattern=r"^[\w.]+:[\w.]+$")
    options: dict[str, Any] = Field(default_factory=dict)


class PipelineSettings(_Section):
    inputs: list[str] = Field(min_length=1)
    outputs: dict[str, str] = Field(min_length=1)
    dead_letter: str
    # The engine's own decisions (timers fired, out-of-order applications): replay reads them.
    decisions: str
    max_event_bytes: int = Field(default=512 * 1024, ge=1)
    max_hops: int = Field(default=16, ge=1)
    # Finished instances are kept this long so late events can be compensated.
    finished_retention: Duration = timedelta(days=7)
    # Events for an aggregate whose start event never comes are dead-lettered after this.
    orphan_timeout: Duration = timedelta(hours=1)
    # An event no transition accepts in its instance's state (`@on(..., when=...)`) waits
    # this long after its timestamp for one that does, then is dead-lettered
    # (unexpected_in_state).
    unexpected_timeout: Duration = timedelta(hours=1)
    # An event ahead of its producer's next `sequence` waits this long after its
    # timestamp for the missing ones, then is applied with the gap recorded.
    reorder_timeout: Duration = timedelta(seconds=30)
    # Handler failures marked retryable (RetryableError, TimeoutError, ConnectionError)
    # are retried with exponential backoff and jitter before dead-lettering.
    max_attempts: int = Field(default=5, ge=1)
    retry_backoff: Duration = timedelta(seconds=1)
    retry_backoff_max: Duration = timedelta(minutes=5)
    # The event-time merge of a task's partitions waits for every partition to be
    # read up to a record's timestamp; past this many records (or bytes) waiting,
    # it releases the oldest anyway (docs/guarantees.md, ordering).
    merge_max_records: int = Field(default=20_000, ge=1)
    merge_max_bytes: int = Field(default=64 << 20, ge=1)
    # More operators next to the workflow, by import path (see docs/operators.md).
    operators: list[OperatorSpec] = Field(default_factory=list)


class EventyardSettings(BaseSettings):
    """Settings shared by every pipeline; pipelines add one section of their own."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    name: str
    kafka: KafkaSettings = KafkaSettings()
    state: StateSettings = StateSettings()
    recovery: RecoverySettings = RecoverySettings()
    metrics: MetricsSettings = MetricsSettings()
    pipeline: PipelineSettings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


# Keys of earlier releases, refused with what replaced them rather than "not permitted".
_REMOVED = {
    "state.shards": "removed: state is kept per task, one per input partition (the topics' partition "
                    "count, kafka.topic_partitions when created); delete the key",
    "kafka.tick_interval": "removed: each task reads its partitions' input time directly; delete the key",
}


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    env = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if error["type"] == "extra_forbidden" and key in _REMOVED:
        return f"{key} [{env}]: {_REMOVED[key]}"
    value = error.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
    return f"{key} [{env}]: {error['msg']}{shown}"


def load_settings(
    name: str,
    section: type[BaseModel] | None = None,
    *,
    yaml_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> EventyardSettings:
    """Load settings for pipeline `name`; raise ConfigError naming every bad key.

    `section` is the pipeline's own options model, stored under a key equal to the
    pipeline name (so EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT reaches it).
    """
    path = yaml_file if yaml_file is not None else CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    namespace: dict[str, Any] = {
        "__annotations__": {},
        "model_config": SettingsConfigDict(**{**EventyardSettings.model_config, "yaml_file": path}),
    }
    if section is not None:
        namespace["__annotations__"][name] = section
        namespace[name] = section()
    settings_cls = type(f"{name.title().replace('_', '')}Settings", (EventyardSettings,), namespace)
    try:
        return settings_cls(**{"name": name, **(overrides or {})})
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid configuration for {name} ({path}):\n  {problems}") from None
