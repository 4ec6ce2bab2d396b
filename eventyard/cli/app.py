"""`eventyard`: run pipelines, manage topics, the embedded broker and the demo."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from eventyard.cli.common import ConfigOption, PipelineArg, console, load, user_errors
from eventyard.cli.dlq import dlq_app
from eventyard.cli.replay import replay
from eventyard.cli.state import state_app
from eventyard.observe.logs import LogFormatChoice, configure_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
topics_app = typer.Typer(no_args_is_help=True, help="Create and inspect a pipeline's topics.")
app.add_typer(topics_app, name="topics")
app.add_typer(state_app, name="state")
app.add_typer(dlq_app, name="dlq")
new_app = typer.Typer(no_args_is_help=True, help="Create project files from templates.")
app.add_typer(new_app, name="new")
app.command()(replay)


def _print_version(wanted: bool) -> None:
    if wanted:
        from eventyard import __version__
        from eventyard.core.native import hot_path

        console.print(f"eventyard {__version__} (hot path: {hot_path()})", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="print the installed version and exit")] = False,
) -> None:
    """`eventyard`: run pipelines, manage topics, the embedded broker and the demo."""


@app.command()
def run(
    pipeline: PipelineArg,
    processes: Annotated[int, typer.Option(
        "--processes", "-p", min=1,
        help="worker processes (on each machine, with --cluster); parallelism is capped by the "
             "partition count of the input topics: one task per partition, processes beyond that idle")] = 1,
    config: ConfigOption = None,
    log_format: Annotated[LogFormatChoice | None, typer.Option(
        "--log-format", help="text or json lines (default: EVENTYARD_LOG_FORMAT, else text)")] = None,
    cluster: Annotated[str | None, typer.Option(
        envvar="EVENTYARD_CLUSTER",
        help="every machine of a multi-machine run, in one order: host[:port],host[:port] "
             "(port: the first of this machine's processes, default 2101)")] = None,
    machine: Annotated[int | None, typer.Option(
        envvar="EVENTYARD_MACHINE", help="this machine's position in --cluster, from 0")] = None,
) -> None:
    """Run PIPELINE in N worker processes until SIGTERM or Ctrl-C.

    Task p reads partition p of every input topic and runs in one process; the
    input topics must be co-partitioned (same partition count), or run refuses."""
    from eventyard.core.errors import ConfigError
    from eventyard.runtime import PipelineSupervisor
    from eventyard.runtime.cluster import ClusterLayout

    if log_format is not None:
        os.environ["EVENTYARD_LOG_FORMAT"] = log_format.value  # the workers inherit it
    with user_errors():
        configure_logging()
        if (cluster is None) != (machine is None):
            raise ConfigError("--cluster and --machine go together: every machine gets the same "
                              "--cluster and its own --machine")
        layout = ClusterLayout.parse(cluster, machine, processes) if cluster and machine is not None else None
        _, settings = load(pipeline, config)
        supervisor = PipelineSupervisor(pipeline, settings, processes, config, cluster=layout)

        def _stop(signum: int, frame: object) -> None:
            supervisor.stop()  # the workers started so far, when it comes during start()
            raise typer.Exit(0)

        # Before start(): a stop that comes while workers are being started is clean too.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        supervisor.start()
    code = supervisor.wait()
    raise typer.Exit(code)


@topics_app.command("create")
def topics_create(pipeline: PipelineArg, config: ConfigOption = None) -> None:
    """Create every topic PIPELINE reads or writes (existing ones are kept)."""
    from eventyard.kafka import create_topics
    from eventyard.kafka.reachability import require_reachable

    with user_errors():
        definition, settings = load(pipeline, config)
        require_reachable(settings.kafka)
        wanted = definition.topics(settings)
        created = set(create_topics(settings.kafka, wanted))
    for topic in wanted:
        console.print(f"{'created' if topic in created else 'exists '}  {topic}")


@app.command()
def events(pipeline: Annotated[str, typer.Argument(help=PipelineArg.__metadata__[0].help)] = "order_saga",
           config: ConfigOption = None) -> None:
    """List the event catalog of PIPELINE: types, direction, topic, required fields."""
    with user_errors():
        definition, settings = load(pipeline, config)
    table = Table(title=f"{pipeline} event catalog")
    required = {t: spec.model.model_json_schema().get("required", []) for t, spec in definition.catalog.items()}
    widest = max((len(f) for fields in required.values() for f in fields), default=6)
    for column in ("type", "direction", "topic"):
        table.add_column(column, no_wrap=True)  # names must stay whole to be copied
    table.add_column("required payload fields", min_width=widest)
    table.add_column("meaning")
    for spec in definition.catalog.values():
        table.add_row(spec.type, spec.direction, spec.topic, "\n".join(required[spec.type]), spec.description)
    console.print(table)


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="port to listen on")] = 9092,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Run the embedded Kafka-protocol broker (memory only) in the foreground."""
    from eventyard.broker import EmbeddedBroker

    with user_errors():
        embedded = EmbeddedBroker(host, port).start()
    console.print(f"embedded broker listening on {embedded.bootstrap_servers} (Ctrl-C stops it)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        embedded.stop()


@new_app.command("operator")
def new_operator(
    name: Annotated[str, typer.Argument(help="snake_case name, e.g. fraud_watch")],
    package_dir: Annotated[Path, typer.Option("--dir", help="where the module goes")] = Path("."),
    tests_dir: Annotated[Path, typer.Option("--tests", help="where its test goes")] = Path("tests"),
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a working operator module and its test, to edit into your own."""
    from eventyard.scaffold import new_operator as scaffold

    with user_errors():
        made = scaffold(name, package_dir, tests_dir, force=force)
    console.print(f"wrote {made.module}\nwrote {made.test}\n"
                  f"test it:  python -m pytest {made.test}\n"
                  f"add it to a pipeline's YAML:\n  pipeline:\n    operators:\n      - use: {made.import_path}",
                  highlight=False)


@new_app.command("project")
def new_project(
    name: Annotated[str, typer.Argument(help="snake_case package name, e.g. approvals")],
    parent: Annotated[Path, typer.Option("--dir", help="where the project directory goes")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a project of your own: pipeline, event catalog, YAML, an operator, tests."""
    from eventyard.scaffold import new_project as scaffold

    with user_errors():
        made = scaffold(name, parent, force=force)
    listing = "\n".join(f"  {path.relative_to(made.root.parent)}" for path in made.files)
    console.print(f"wrote {made.root}/\n{listing}\n"
                  f"test it:  cd {made.root} && pip install -e '.[dev]' && pytest\n"
                  f"run it:   eventyard broker --port 9092 &  eventyard topics create {made.pipeline} "
                  f"&& eventyard run {made.pipeline}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="orders to generate")] = 1000,
    processes: Annotated[int, typer.Option("--processes", "-p", min=1)] = 2,
) -> None:
    """Broker + topics + order_saga in N processes + generated traffic + summary."""
    from eventyard.demo.run import run_demo

    configure_logging("WARNING")
    with user_errors():
        ok = run_demo(orders=orders, processes=processes, console=console)
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    app()
