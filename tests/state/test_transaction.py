"""The compiled TaskTransaction writes exactly what its pure-Python twin writes.

A store written one byte differently (a timer key, an outbox sequence) would fire a
timer twice or re-emit the wrong records after a restart, so both are run over the
same generated operations, each on its own store on disk, and every answer, the
in-memory views and the stores' whole contents are compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rocksdict import WriteBatch

from eventyard.core.records import OutRecord
from eventyard.state import TaskStore, keys
from eventyard.state.outbox import encode_entry, outbox_value
from eventyard.state.transaction import TaskTransaction

try:
    from eventyard.core import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - only where the build had no compiler or OpenSSL
    _native = None

pytestmark = pytest.mark.skipif(_native is None, reason="the compiled hot path was not built")

ids = st.text(max_size=12)
times = st.integers(-10**6, 10**13)
records = st.builds(OutRecord, st.sampled_from(["out", "dlq"]), st.none() | st.binary(max_size=8),
                    st.none() | st.binary(max_size=8), st.just((("h", b"v"),)), st.none() | times)
operations = st.lists(st.one_of(
    st.tuples(st.just("get_instance"), ids),
    st.tuples(st.just("put_instance"), ids, st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)),
    st.tuples(st.just("delete_instance"), ids),
    st.tuples(st.just("set_timer"), times, ids, st.text(max_size=6)),
    st.tuples(st.just("cancel_timer"), times, ids, st.text(max_size=6)),
    st.tuples(st.just("watermark"), st.sampled_from(["a", "b"]), st.integers(0, 2)),
    st.tuples(st.just("set_watermark"), st.sampled_from(["a", "b"]), st.integers(0, 2), st.integers(-1, 10**6)),
    st.tuples(st.just("seen"), ids),
    st.tuples(st.just("mark_seen"), ids, times),
    st.tuples(st.just("unmark_seen"), ids),
    st.tuples(st.just("append_outbox"), records, times),
    st.tuples(st.just("commit")),
    st.tuples(st.just("flush")),
    st.tuples(st.just("discard")),
), max_size=40)
_names = itertools.count()


def _contents(store: TaskStore) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    everything = [(key, value) for key, value in store._scan(b"")]
    outbox = [(key, value) for key, value in store._scan(b"", db=store._outbox_db)]
    return everything, outbox


def _outcome(method: Callable[..., Any], *args: Any) -> Any:
    """What the call returned, or the type of what it raised (orjson refuses some states)."""
    try:
        return method(*args)
    except (TypeError, ValueError) as exc:
        return type(exc)


@given(ops=operations, grouped=st.booleans())
def test_the_compiled_transaction_writes_what_the_pure_one_writes(make_store: Callable[..., TaskStore],
                                                                  ops: list[tuple[Any, ...]], grouped: bool) -> None:
    n = next(_names)
    stores = [make_store(name=f"pure-{n}"), make_store(name=f"compiled-{n}")]
    txns = [TaskTransaction(stores[0], grouped),
            _native.TaskTransaction(WriteBatch, encode_entry, outbox_value, keys.watermark_key, orjson.dumps, stores[1], grouped)]
    for op, *args in [*ops, ("flush",)]:
        answers = [_outcome(getattr(txn, op), *args) for txn in txns]
        assert answers[0] == answers[1], op
        assert txns[0].min_timer_due == txns[1].min_timer_due, op
    assert _contents(stores[0]) == _contents(stores[1])
    assert stores[0]._records == stores[1]._records
    assert stores[0]._watermarks == stores[1]._watermarks
    assert stores[0].next_outbox_seq == stores[1].next_outbox_seq


@pytest.mark.parametrize("bad", ["\ud800", 7])
def test_an_id_no_key_can_hold_is_refused_by_both(make_store: Callable[..., TaskStore], bad: Any) -> None:
    compiled = _native.TaskTransaction(WriteBatch, encode_entry, outbox_value, keys.watermark_key, orjson.dumps,
                                       make_store(name="compiled"), False)
    pure = TaskTransaction(make_store(name="pure"), False)
    errors = []
    for txn in (pure, compiled):
        with pytest.raises((UnicodeEncodeError, AttributeError, TypeError)) as caught:
            txn.set_timer(5, bad, "t")
        errors.append(caught.type)
    if isinstance(bad, str):
        assert errors == [UnicodeEncodeError, UnicodeEncodeError]
