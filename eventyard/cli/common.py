"""Options and error handling shared by CLI commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from eventyard.config import EventyardSettings
from eventyard.core.errors import EventyardError
from eventyard.importing import project_on_path
from eventyard.pipelines import PipelineDefinition, get_pipeline

__all__ = ["console", "err_console", "ConfigOption", "PipelineArg", "load", "user_errors"]

# Piped (`eventyard events | less`), rich would lay tables out for 80 columns and cut
# them; a wide virtual width keeps every row whole (COLUMNS still wins if set).
_PIPED_WIDTH = 1000
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else _PIPED_WIDTH)
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file (default: the one the pipeline definition names)"),
]
PipelineArg = Annotated[str, typer.Argument(
    help="a shipped pipeline's name (order_saga, loan_application) or your module:ATTRIBUTE, e.g. shop.pipeline:PIPELINE")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn Eventyard errors into a one-paragraph message and exit code 2."""
    try:
        yield
    except EventyardError as exc:
        # escaped: messages hold brackets, e.g. pip install 'eventyard[fast]'
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def load(pipeline: str, config: Path | None) -> tuple[PipelineDefinition, EventyardSettings]:
    """The pipeline and its settings: --config, else the YAML its definition names,
    with EVENTYARD_<SECTION>__<KEY> overrides."""
    project_on_path()
    definition = get_pipeline(pipeline)
    return definition, definition.settings(config)
