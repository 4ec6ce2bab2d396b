"""One root for every error Eventyard raises on purpose."""

from __future__ import annotations

__all__ = [
    "EventyardError",
    "ConfigError",
    "StoreError",
    "StoreMissingError",
    "StoreCorruptError",
    "StoreLockedError",
    "StoreBehindError",
    "TopicMissingError",
    "KafkaUnavailableError",
    "PipelineNotFoundError",
    "OperatorDefinitionError",
    "WorkflowDefinitionError",
    "BrokerError",
    "DeadLetterError",
]


class EventyardError(Exception):
    """Base class: catch this to catch anything Eventyard raises deliberately."""

    # Set once the message is in the log: inside a worker, where it was raised, since
    # bytewax reports a failure in a cluster as another process's panic without it.
    logged: bool = False


class ConfigError(EventyardError):
    """Settings are invalid; the message names the offending key."""


class NotCopartitionedError(ConfigError):
    """The input topics of a pipeline differ in partition count."""


class StoreError(EventyardError):
    """A task store cannot be used."""


class StoreMissingError(StoreError):
    """A task store that should exist is absent (never silently recreated)."""


class StoreCorruptError(StoreError):
    """A task store exists but cannot be opened or read."""


class StoreLockedError(StoreError):
    """Another process holds the task store open."""


class StoreBehindError(StoreError):
    """A task store is older than the recovery snapshot that describes it (an old
    backup or a stale copy): resuming from it would silently lose state."""


class TopicMissingError(EventyardError):
    """An input topic does not exist on the broker."""


class KafkaUnavailableError(EventyardError):
    """The Kafka cluster cannot be reached, or the configured client is not installed."""


class PipelineNotFoundError(EventyardError):
    """No pipeline is registered under the requested name."""


class OperatorDefinitionError(EventyardError):
    """An operator (or its place in a pipeline) is defined inconsistently."""


class WorkflowDefinitionError(OperatorDefinitionError):
    """A workflow class is defined inconsistently."""


class BrokerError(EventyardError):
    """The embedded broker could not be started."""


class DeadLetterError(EventyardError):
    """A dead-letter command cannot do what was asked: a bad filter, a record that
    is not there, an unusable redrive checkpoint, or a failed publication."""
