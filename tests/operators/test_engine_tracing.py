"""Trace context flows from an input record to the records it causes, and into logs."""

import logging

import orjson

from eventyard.observe.tracing import extract

PARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _placed(event):
    return event("OrderPlaced", "o-1", customer_id="c", amount=10, currency="EUR", items=[{"sku": "s", "quantity": 1}])


def test_outputs_continue_the_inputs_trace_with_a_stable_span(make_engine, make_store, make_message, event, make_inbound):
    record = _placed(event)
    traced = type(record)(record.topic, record.key, record.value, (("traceparent", PARENT),))
    engine, store = make_engine(), make_store()
    inbound = make_inbound(traced)
    out = [r for r in engine.apply(store.transaction(), inbound) if r.topic == "order-commands"]
    parents = [extract(r.headers) for r in out]
    assert {p.trace_id for p in parents} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert len({p.parent_id for p in parents}) == len(out) == 2
    again = make_engine().apply(make_store(name="again").transaction(), inbound)
    assert [r.headers for r in again if r.topic == "order-commands"] == [r.headers for r in out]


def test_handler_logs_carry_the_trace_and_aggregate(make_engine, make_store, make_inbound, event, caplog):
    engine, store = make_engine(), make_store()
    engine.workflow.order_placed = lambda order, evt: 1 / 0
    with caplog.at_level(logging.WARNING, logger="eventyard.operators.engine"):
        engine.apply(store.transaction(), make_inbound(_placed(event)))
    failed = [dict(r.eventyard_context) for r in caplog.records if "failed" in r.getMessage()]
    assert failed and failed[0]["aggregate_id"] == "o-1" and len(failed[0]["trace_id"]) == 32
    envelope_trace = orjson.loads(_placed(event).value)["trace_id"]
    assert envelope_trace == "trace-o-1"  # hashed into a W3C id, the same on every worker
