"""Event catalog: which event types exist and what their payload must contain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

__all__ = ["Payload", "EventSpec", "EventCatalog"]


class Payload(BaseModel):
    """Base for payload models: required fields are checked, extra fields kept."""

    model_config = ConfigDict(frozen=True, extra="allow")


@dataclass(frozen=True)
class EventSpec:
    type: str
    model: type[Payload]
    direction: str  # "input" (consumed) or "output" (emitted)
    topic: str
    description: str


class EventCatalog(Mapping[str, EventSpec]):
    """An immutable mapping of event type name -> EventSpec."""

    def __init__(self, specs: list[EventSpec]) -> None:
        self._specs = {spec.type: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("duplicate event type in catalog")

    def __getitem__(self, key: str) -> EventSpec:
        return self._specs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def inputs(self) -> dict[str, EventSpec]:
        return {k: s for k, s in self._specs.items() if s.direction == "input"}
