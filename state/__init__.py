"""Per-task workflow state in RocksDB. Knows nothing of Kafka or bytewax.

Layering (as in Quix Streams): `StateDirectory` (all tasks of a pipeline) ->
`TaskStore` (one RocksDB per task) -> `TaskTransaction` (one WriteBatch: the
effects of one event or one timer, committed atomically).
"""

from eventyard.state.directory import StateDirectory
from eventyard.state.store import OutboxEntry, TaskStore, TimerEntry
from eventyard.state.transaction import TaskTransaction

__all__ = ["StateDirectory", "TaskStore", "TaskTransaction", "OutboxEntry", "TimerEntry"]
