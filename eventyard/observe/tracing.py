"""W3C Trace Context on Kafka records, without an OpenTelemetry SDK.

Eventyard does not record spans; it carries the trace from the records it reads
to the records it writes, so a tracing backend shows a producer's span, and the
spans of the services that consume Eventyard's outputs, as one trace.

Header: `traceparent: 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`
(https://www.w3.org/TR/trace-context/), plus `tracestate` passed on unchanged.

Outputs are re-emitted after crashes and replays and must be byte-identical, so
nothing here is random: an output's span id is a hash of its event_id, and a trace
id made up for an input without a traceparent is a hash of its envelope trace_id.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eventyard.core.native import choose

__all__ = [
    "TRACEPARENT", "TRACESTATE", "SAMPLED", "SPAN_DOMAIN", "TraceParent",
    "parse_traceparent", "extract", "trace_id_for", "trace_id_of", "span_id_for",
    "output_headers", "child_headers", "ChildHeaders",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
SPAN_DOMAIN = b"eventyard.span:"  # hashed before an output's event_id into its span id
SAMPLED = 0x01
_TRACESTATE_MAX = 512  # what the spec asks every vendor to propagate at least

_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

Header = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A valid version-00 traceparent (ids are lowercase hex, never all zeros)."""

    trace_id: str
    parent_id: str
    flags: int = SAMPLED
    tracestate: str | None = None

    def __post_init__(self) -> None:
        if _FIELDS.fullmatch(f"00-{self.trace_id}-{self.parent_id}-{self.flags:02x}") is None:
            raise ValueError(f"not a W3C traceparent: {self.trace_id!r}, {self.parent_id!r}, {self.flags!r}")
        if self.trace_id == _ZERO_TRACE or self.parent_id == _ZERO_SPAN:
            raise ValueError("an all-zero trace-id or parent-id is invalid")

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    def header_value(self) -> bytes:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags:02x}".encode("ascii")


def parse_traceparent(value: str | bytes) -> TraceParent | None:
    """A traceparent header value, or None when it is malformed (the spec says: ignore it)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    value = value.strip()
    match = _FIELDS.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff":
        return None
    # Version 00 is exactly 55 characters; a later version may append "-..." fields,
    # which a version-00 reader skips.
    if len(value) != 55 and (version == "00" or value[55] != "-"):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, parent_id, int(flags, 16))


def extract(headers: Iterable[Header]) -> TraceParent | None:
    """The trace context of a record from its Kafka headers, or None.

    Header names match case-insensitively. Two different traceparents are
    ambiguous and count as none. tracestate is kept only with a valid traceparent.
    """
    parents: set[bytes] = set()
    states: list[bytes] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == TRACEPARENT:
            parents.add((value or b"").strip())
        elif lowered == TRACESTATE and value:
            states.append(value.strip())
    if len(parents) != 1:
        return None
    parent = parse_traceparent(parents.pop())
    if parent is None:
        return None
    state = _tracestate(states)
    return parent if state is None else TraceParent(parent.trace_id, parent.parent_id, parent.flags, state)


def _tracestate(values: list[bytes]) -> str | None:
    # Several tracestate headers concatenate, as in HTTP. Unreadable or oversized: dropped.
    try:
        joined = ",".join(v.decode("ascii") for v in values if v)
    except UnicodeDecodeError:
        return None
    if not joined or len(joined) > _TRACESTATE_MAX or not joined.isprintable():
        return None
    return joined


def _py_hex_digest(domain: bytes, text: str, chars: int) -> str:
    digest = hashlib.sha256(domain + text.encode("utf-8", "surrogatepass")).hexdigest()
    head = digest[:chars]
    # An all-zero id is invalid; take the next chars of the digest (never all zero twice in practice).
    return head if head.strip("0") else digest[chars:2 * chars]


_hex_digest: Callable[[bytes, str, int], str] = choose(_py_hex_digest, "sha256_hex_id")


@functools.lru_cache(maxsize=16_384)  # one hash per aggregate's trace, not one per event
def trace_id_for(trace_id: str) -> str:
    """A W3C trace-id for an envelope's trace_id: itself when it is one, else a stable hash.

    32 hex digits are kept (lowercased). Anything else, e.g. `trace-order-17`, maps
    to the first 128 bits of its SHA-256, so every record with that trace_id lands
    in the same trace, on every worker and every run.
    """
    if _HEX32.fullmatch(trace_id) and trace_id.strip("0"):
        return trace_id.lower()
    return _hex_digest(b"eventyard.trace:", trace_id, 32)


def trace_id_of(parent: TraceParent | None, envelope_trace_id: str | None, fallback_id: str) -> str:
    """The trace an input belongs to: its traceparent's, else its envelope trace_id's, else fallback_id's.

    Bind this one in `eventyard.observe.logs.log_context`, so log lines and records share the id.
    """
    if parent is not None:
        return parent.trace_id
    return trace_id_for(envelope_trace_id or fallback_id)


def span_id_for(event_id: str) -> str:
    """The span id of the output record with this event_id: same id, same span, every time."""
    return _hex_digest(SPAN_DOMAIN, event_id, 16)


def output_headers(
    parent: TraceParent | None, envelope_trace_id: str | None, fallback_id: str, output_event_id: str
) -> tuple[Header, ...]:
    """The traceparent (and tracestate) headers of one output record.

    `parent` is what `extract` found on the input that caused the output (None for
    timer outputs or inputs without one). Without it the trace id comes from the
    envelope's trace_id, or `fallback_id` (e.g. the correlation id) when that is
    missing too, and the record is marked sampled.
    """
    return child_headers(parent, trace_id_of(parent, envelope_trace_id, fallback_id), output_event_id)


def child_headers(parent: TraceParent | None, trace_id: str, output_event_id: str) -> tuple[Header, ...]:
    """`output_headers` for a trace id already resolved with `trace_id_of`."""
    return ChildHeaders(parent, trace_id)(output_event_id)


class ChildHeaders:
    """The trace headers of the records one cause emits: the trace, flags and
    tracestate are resolved once per cause, each record adds its span."""

    __slots__ = ("_head", "_tail", "_state")

    def __init__(self, parent: TraceParent | None, trace_id: str) -> None:
        flags, state = (parent.flags & SAMPLED, parent.tracestate) if parent is not None else (SAMPLED, None)
        # trace_id comes from trace_id_of and the span id from a hex digest, both
        # valid: no TraceParent (and its validation) per output record.
        self._head = f"00-{trace_id}-"
        self._tail = f"-{flags:02x}"
        self._state: Header | None = None if state is None else (TRACESTATE, state.encode("ascii"))

    def parts(self) -> tuple[bytes, bytes, Header | None]:
        """(before the span, after it, the tracestate header or None): a traceparent
        value is head + span_id_for(event_id) + tail."""
        return self._head.encode("ascii"), self._tail.encode("ascii"), self._state

    def __call__(self, output_event_id: str) -> tuple[Header, ...]:
        value = (self._head + span_id_for(output_event_id) + self._tail).encode("ascii")
        return ((TRACEPARENT, value),) if self._state is None else ((TRACEPARENT, value), self._state)
