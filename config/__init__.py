"""Typed settings: `config/<pipeline>.yaml` overridden by EVENTYARD_<SECTION>__<KEY>."""

from eventyard.config.durations import Duration, parse_duration
from eventyard.config.settings import (
    EventyardSettings,
    KafkaSettings,
    OperatorSpec,
    PipelineSettings,
    RecoverySettings,
    StateSettings,
    load_settings,
)

__all__ = [
    "Duration",
    "parse_duration",
    "EventyardSettings",
    "KafkaSettings",
    "OperatorSpec",
    "PipelineSettings",
    "RecoverySettings",
    "StateSettings",
    "load_settings",
]
