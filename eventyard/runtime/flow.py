"""Compose a bytewax dataflow from a pipeline definition and its settings.

    Kafka inputs -> decode/validate -> route (one delivery per operator, keyed by
                        |           its key's shard) -> operators (RocksDB)
                        \\-> dead letters -------------------------\\-> Kafka sink
"""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from eventyard.config import EventyardSettings
from eventyard.core.deadletter import DeadLetterRecord
from eventyard.kafka import make_sink, make_source
from eventyard.core.records import InputTick, OutRecord
from eventyard.core.routing import shard_key
from eventyard.operators.decode import Decoder, Inbound
from eventyard.operators.api import Operator
from eventyard.operators.engine import EngineConfig, OperatorEngine, WorkflowEngine
from eventyard.operators.operator_set import OperatorSet
from eventyard.operators.retry import RetryPolicy
from eventyard.operators.shard_logic import ShardRuntime, ShardTick
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.pipelines.operator_specs import load_operator
from eventyard.state import StateDirectory
from eventyard.state.memory import set_store_memory

__all__ = ["build_engine", "build_operators", "build_runtime", "build_flow"]


def _engine_config(settings: EventyardSettings) -> EngineConfig:
    return EngineConfig(
        pipeline=settings.name,
        outputs=dict(settings.pipeline.outputs),
        dead_letter_topic=settings.pipeline.dead_letter,
        history_size=settings.state.history_size,
        max_parked=settings.state.max_parked,
        orphan_timeout=settings.pipeline.orphan_timeout,
        decisions_topic=settings.pipeline.decisions,
    )


def _retry(settings: EventyardSettings, retryable: tuple[type[BaseException], ...]) -> RetryPolicy:
    p = settings.pipeline
    return RetryPolicy(p.max_attempts, p.retry_backoff, p.retry_backoff_max, retryable)


def build_engine(definition: PipelineDefinition, settings: EventyardSettings) -> WorkflowEngine:
    """The engine of the pipeline's workflow."""
    workflow = definition.workflow(settings)
    workflow.retention = settings.pipeline.finished_retention
    return WorkflowEngine(workflow, definition.catalog, _engine_config(settings),
                          retry=_retry(settings, workflow.retryable))


def build_operators(definition: PipelineDefinition, settings: EventyardSettings) -> OperatorSet:
    """The workflow plus the operators added in Python and in the YAML config."""
    extra: list[Operator] = [*definition.build_operators(settings),
                             *(load_operator(spec) for spec in settings.pipeline.operators)]
    config = _engine_config(settings)
    engines = [build_engine(definition, settings),
               *(OperatorEngine(o, definition.catalog, config, retry=_retry(settings, o.retryable)) for o in extra)]
    return OperatorSet(engines, settings.state.shards)


def build_runtime(definition: PipelineDefinition, settings: EventyardSettings) -> ShardRuntime:
    state = settings.state
    set_store_memory(state.memtable_budget_mb << 20, state.block_cache_mb << 20, state.shards,
                     bloom_bits_per_key=state.bloom_bits_per_key, index_in_cache=state.index_in_cache)
    directory = StateDirectory(settings.state.dir, settings.name, settings.state.shards)
    directory.ensure()
    return ShardRuntime(
        directory=directory,
        operators=build_operators(definition, settings),
        outbox_retention=settings.state.outbox_retention,
        dedup_retention=settings.state.dedup_retention,
        rebuild_missing=settings.state.rebuild_missing,
        sync_at_snapshot=settings.state.sync_at_snapshot,
        pipeline=settings.name,
    )


def build_flow(definition: PipelineDefinition, settings: EventyardSettings, process: int = 0,
               processes: int = 1) -> Dataflow:
    """The dataflow run by worker process `process` of `processes`."""
    p = settings.pipeline
    runtime = build_runtime(definition, settings)
    decoder = Decoder(settings.name, definition.catalog, settings.state.shards, p.max_event_bytes, p.max_hops)

    def to_dead_letter(item: tuple[str, Inbound | DeadLetterRecord]) -> tuple[str, OutRecord]:
        key, record = item
        assert isinstance(record, DeadLetterRecord)
        return key, record.to_record(p.dead_letter)

    shards = settings.state.shards

    def broadcast(tick: InputTick) -> list[tuple[str, ShardTick]]:
        # Every shard needs every partition's input time to know its stream time.
        return [(shard_key(n), ShardTick(n, tick)) for n in range(shards)]

    source = make_source(settings.kafka, list(p.inputs), settings.name)
    runtime.input_partitions = len(source.list_parts())
    flow = Dataflow(settings.name)
    items = op.input("kafka_in", flow, source)
    ticks = op.branch("is_tick", items, lambda item: isinstance(item, InputTick))
    decoded = op.map("decode", ticks.falses, decoder)
    valid = op.branch("is_valid", decoded, lambda item: isinstance(item[1], Inbound))
    dead = op.map("dead_letter", valid.falses, to_dead_letter)
    routed = op.flat_map("route", valid.trues, runtime.operators.route)
    to_shards = op.merge("with_ticks", routed, op.flat_map("broadcast_ticks", ticks.trues, broadcast))
    outputs = op.stateful_batch("workflow", to_shards, runtime.builder)
    sink = make_sink(settings.kafka, settings.name, process, processes)
    op.output("kafka_out", op.merge("all_out", outputs, dead), sink)
    return flow
