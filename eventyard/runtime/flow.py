"""Compose a bytewax dataflow from a pipeline definition and its settings.

    Kafka partition p of every input -> task p: decode/validate -> event-time merge
        -> workflow + operators (task p's RocksDB store) -> outputs, dead letters,
        decisions -> Kafka sink (written by the same process)

One source partition per task, and nothing else keyed: bytewax keeps a source
partition's items on its worker, so no event crosses processes.
"""

from __future__ import annotations

import logging
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from eventyard.config import EventyardSettings
from eventyard.core.errors import NotCopartitionedError, StoreError
from eventyard.kafka import make_sink
from eventyard.kafka.transport import make_partition_reader, partition_counts
from eventyard.operators.api import Operator
from eventyard.operators.decode import Decoder
from eventyard.operators.engine import EngineConfig, OperatorEngine, WorkflowEngine
from eventyard.operators.merge import EventTimeMerge, MergeBounds
from eventyard.operators.operator_set import OperatorSet
from eventyard.operators.retry import RetryPolicy
from eventyard.operators.task import Task, TaskSettings
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.runtime.task_source import TaskSource
from eventyard.state import TaskStore, StateDirectory
from eventyard.state.memory import set_store_memory

__all__ = ["build_engine", "build_operators", "build_decoder", "build_flow", "input_tasks", "copartitioned",
           "budget_store_memory"]

log = logging.getLogger(__name__)

STEP = "tasks"  # the source's step id: its recovery snapshots are per task


def _engine_config(settings: EventyardSettings) -> EngineConfig:
    return EngineConfig(
        pipeline=settings.name,
        outputs=dict(settings.pipeline.outputs),
        dead_letter_topic=settings.pipeline.dead_letter,
        history_size=settings.state.history_size,
        max_parked=settings.state.max_parked,
        orphan_timeout=settings.pipeline.orphan_timeout,
        decisions_topic=settings.pipeline.decisions,
        unexpected_timeout=settings.pipeline.unexpected_timeout,
        reorder_timeout=settings.pipeline.reorder_timeout,
        order_retention=settings.state.dedup_retention,
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
    extra: list[Operator] = definition.all_operators(settings)
    config = _engine_config(settings)
    engines = [build_engine(definition, settings),
               *(OperatorEngine(o, definition.catalog, config, retry=_retry(settings, o.retryable)) for o in extra)]
    return OperatorSet(engines, definition.repartition_topics(settings))


def build_decoder(definition: PipelineDefinition, settings: EventyardSettings) -> Decoder:
    p = settings.pipeline
    return Decoder(settings.name, definition.catalog, p.max_event_bytes, p.max_hops,
                   frozenset(definition.repartition_topics(settings).values()))


def copartitioned(counts: dict[str, int]) -> int:
    """The task count of inputs with these partition counts; refuses unequal ones."""
    if len(set(counts.values())) != 1:
        listed = ", ".join(f"{topic}: {n}" for topic, n in sorted(counts.items()))
        raise NotCopartitionedError(
            f"input topics must be co-partitioned (same partition count, keyed by aggregate ID), "
            f"found {listed}. Task p reads partition p of every input, so each aggregate's events "
            "must land on the same partition number everywhere. Recreate or expand the topics to one "
            "count (`eventyard topics create PIPELINE` creates them co-partitioned)")
    return next(iter(counts.values()))


def input_tasks(settings: EventyardSettings, definition: PipelineDefinition | None = None) -> int:
    """The pipeline's task count (partitions per input topic), checked co-partitioned
    (with the repartition topics, when the definition is given)."""
    topics = definition.task_inputs(settings) if definition else list(settings.pipeline.inputs)
    return copartitioned(partition_counts(settings.kafka, topics))


def budget_store_memory(settings: EventyardSettings, stores: int) -> None:
    """Share the process's memory settings (state.*) among the `stores` it opens;
    before the first store opens."""
    state = settings.state
    set_store_memory(state.memtable_budget_mb << 20, state.block_cache_mb << 20, stores,
                     bloom_bits_per_key=state.bloom_bits_per_key, index_in_cache=state.index_in_cache,
                     records=state.record_cache)


def build_flow(definition: PipelineDefinition, settings: EventyardSettings, process: int = 0,
               processes: int = 1, tasks: int | None = None) -> Dataflow:
    """The dataflow run by worker process `process` of `processes`."""
    tasks = input_tasks(settings, definition) if tasks is None else tasks
    state, kafka = settings.state, settings.kafka
    budget_store_memory(settings, max(1, -(-tasks // processes)))  # the tasks a process may own at most
    directory = StateDirectory(state.dir, settings.name, tasks)
    directory.ensure()
    operators = build_operators(definition, settings)
    decoder = build_decoder(definition, settings)
    task_settings = TaskSettings(
        pipeline=settings.name, dead_letter_topic=settings.pipeline.dead_letter,
        outbox_retention=state.outbox_retention, dedup_retention=state.dedup_retention,
        sync_at_snapshot=state.sync_at_snapshot)
    inputs = definition.task_inputs(settings)
    bounds = MergeBounds(settings.pipeline.merge_max_records, settings.pipeline.merge_max_bytes)

    def build_task(number: int, resume: dict[str, Any] | None) -> Task:
        path = directory.task_path(number)
        try:
            # A task bytewax has a snapshot for must find its store (else its state is elsewhere).
            store = TaskStore.open(path, number, create=resume is None or state.rebuild_missing)
            try:
                return Task(number, store, operators, decoder,
                            EventTimeMerge([(topic, number) for topic in inputs], bounds), task_settings,
                            emitted_seq=resume["outbox_seq"] if resume else 0, resumed=resume is not None)
            except StoreError:
                store.close()
                raise
        except StoreError as exc:
            # With several processes bytewax reports an error raised here only as
            # "Send thread panic" in every worker: log it where it happens.
            log.error("%s", exc)
            exc.logged = True
            raise

    def reader(topic: str, partition: int, resume: int | None):  # type: ignore[no-untyped-def]
        return make_partition_reader(kafka, topic, partition, resume, settings.name)

    source = TaskSource(inputs, tasks, reader, build_task, read_cap=2 * kafka.max_poll_records,
                        backoff=kafka.idle_backoff, pipeline=settings.name)
    flow = Dataflow(settings.name)
    outputs = op.input(STEP, flow, source)
    op.output("kafka_out", outputs, make_sink(kafka, settings.name, process, processes))
    return flow
