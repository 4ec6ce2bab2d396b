"""Logging setup shared by the CLI and workers."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_logging"]


def configure_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("EVENTYARD_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.ERROR)  # no-group consumers warn by design
