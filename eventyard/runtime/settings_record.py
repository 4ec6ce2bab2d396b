"""The settings that decide what state a given input produces, recorded with the state.

`eventyard run` writes them to `<state.dir>/SETTINGS.json` at start. `eventyard
replay` compares its own with them before rebuilding: a replay under other settings
(say without the live run's `EVENTYARD_ORDER_SAGA__PAYMENT_TIMEOUT=16s`) builds other
state, and swapping that in would silently change open workflows (issue 16). It
refuses, naming each difference, unless told `--accept-settings`; the rebuilt
directory then records the settings it was built with.

Recorded: the pipeline's own options section (e.g. `order_saga.*`), the pipeline
settings that change decisions (limits, timeouts, retries, inputs, operators and
their options) and the state settings that shape records (`history_size`,
`max_parked`). The task layout (partitions per input topic) is pinned by the state
directory's manifest. Not recorded: addresses, directories, tuning and
observability, which change no decision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from eventyard.config import EventyardSettings
from eventyard.core.errors import ConfigError

__all__ = ["RECORD_FILE", "SettingsDifference", "SettingsMismatchError", "state_settings", "write_record",
           "read_record", "differences", "check_replay_settings"]

RECORD_FILE = "SETTINGS.json"
_PIPELINE_KEYS = ("inputs", "max_event_bytes", "max_hops", "finished_retention", "orphan_timeout", "max_attempts",
                  "retry_backoff", "retry_backoff_max", "operators", "unexpected_timeout", "reorder_timeout")
_STATE_KEYS = ("history_size", "max_parked")


class SettingsMismatchError(ConfigError):
    """A replay's settings differ from those the live state was built with."""


@dataclass(frozen=True, slots=True)
class SettingsDifference:
    name: str  # dotted, as in the YAML file: order_saga.payment_timeout
    live: Any  # as recorded (JSON); None: not recorded
    now: Any

    def describe(self) -> str:
        env = "EVENTYARD_" + self.name.upper().replace(".", "__")
        return f"{self.name} [{env}]: live run {_shown(self.live)}, this replay {_shown(self.now)}"


def _shown(value: Any) -> str:
    return "(not set)" if value is None else orjson.dumps(value).decode()


def state_settings(settings: EventyardSettings) -> dict[str, Any]:
    """Dotted name -> JSON value of every setting that changes state."""
    flat: dict[str, Any] = {}
    own = getattr(settings, settings.name, None)
    if own is not None and hasattr(own, "model_dump"):
        for key, value in own.model_dump(mode="json").items():
            flat[f"{settings.name}.{key}"] = value
    pipeline = settings.pipeline.model_dump(mode="json", include=set(_PIPELINE_KEYS))
    flat.update({f"pipeline.{k}": v for k, v in pipeline.items()})
    state = settings.state.model_dump(mode="json", include=set(_STATE_KEYS))
    flat.update({f"state.{k}": v for k, v in state.items()})
    return dict(sorted(flat.items()))


def write_record(state_dir: Path, settings: EventyardSettings) -> None:
    """Record `settings` in `state_dir`, atomically (a crash leaves the old record or the new)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / RECORD_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps({"pipeline": settings.name, "settings": state_settings(settings)},
                                 option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def read_record(state_dir: Path) -> dict[str, Any] | None:
    """The recorded settings, or None when the state predates the record (or there is none)."""
    path = state_dir / RECORD_FILE
    if not path.is_file():
        return None
    try:
        recorded = orjson.loads(path.read_bytes())["settings"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc!r}); delete it to skip the settings check") from None
    return recorded if isinstance(recorded, dict) else None


def differences(recorded: dict[str, Any], settings: EventyardSettings) -> list[SettingsDifference]:
    now = state_settings(settings)
    return [SettingsDifference(name, recorded.get(name), now.get(name))
            for name in sorted(recorded.keys() | now.keys()) if recorded.get(name) != now.get(name)]


def check_replay_settings(state_dir: Path, settings: EventyardSettings, accept: bool) -> list[SettingsDifference]:
    """The differences from the live run's settings; raises unless `accept`."""
    recorded = read_record(state_dir)
    found = [] if recorded is None else differences(recorded, settings)
    if found and not accept:
        listed = "\n  ".join(d.describe() for d in found)
        raise SettingsMismatchError(
            f"this replay's settings differ from those of the live run that built {state_dir}:\n  {listed}\n"
            "The rebuilt state would differ from the live one. Replay with the live run's settings, or pass "
            "--accept-settings to rebuild under these (the next run must use them too)")
    return found
