"""Per-shard workflow state in RocksDB. Knows nothing of Kafka or bytewax.

Layering (as in Quix Streams): `StateDirectory` (all shards of a pipeline) ->
`ShardStore` (one RocksDB per shard) -> `ShardTransaction` (one WriteBatch: the
effects of one event or one timer, committed atomically).
"""

from eventyard.state.directory import StateDirectory
from eventyard.state.store import OutboxEntry, ShardStore, TimerEntry
from eventyard.state.transaction import ShardTransaction

__all__ = ["StateDirectory", "ShardStore", "ShardTransaction", "OutboxEntry", "TimerEntry"]
