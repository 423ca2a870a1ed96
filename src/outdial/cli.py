"""The ``outdial`` command."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from rich.console import Console

import outdial
from outdial.domain.errors import OutdialError
from outdial.engine.worker import EngineSettings
from outdial.io.webhooks import DeliverySettings
from outdial.runtime import EngineThread, WebhookThread, new_worker, open_runtime
from outdial.services.models import TenantIn
from outdial.services.validation import validate
from outdial.settings import Settings, load_settings
from outdial.store.db import normalise_url
from outdial.store.migrate import current_revision, head_revision, upgrade
from outdial.store.store import Store

app = typer.Typer(help="outdial: outbound call campaign platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
bench_app = typer.Typer(help="Benchmarks", no_args_is_help=True)
dnc_app = typer.Typer(help="Do-not-call lists", no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")
app.add_typer(bench_app, name="bench")
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        "-d",
        envvar="OUTDIAL_DATA_DIR",
        help="Where the embedded SQLite store and the keys live",
    ),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"outdial {outdial.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """outdial: outbound call campaign platform."""


def _settings(data_dir: Path) -> Settings:
    return load_settings(data_dir.expanduser().resolve())


def _engine_settings() -> EngineSettings:
    """Engine timings; OUTDIAL_ENGINE_LEASE_SECONDS shortens take-over (tests, small sites)."""
    lease = float(os.environ.get("OUTDIAL_ENGINE_LEASE_SECONDS", "15"))
    return EngineSettings(lease_seconds=lease)


def _fail(exc: OutdialError, as_options: bool = False) -> NoReturn:
    """Print an error with each field at fault (as ``--option`` names when the fields are the
    command's options) and exit with status 2."""
    for detail in exc.details:
        name = f"--{detail.field.replace('_', '-')}" if as_options else detail.field
        err.print(f"[red]{name}[/]: {detail.message}")
    err.print(f"[red]error:[/] {exc.message}")
    raise typer.Exit(2) from exc


def _where(settings: Settings) -> str:
    return normalise_url(settings.database_url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    data_dir: DataDir = Path("data"),
    with_engine: Annotated[
        bool, typer.Option("--engine/--no-engine", help="Run the dialing engine in-process")
    ] = True,
) -> None:
    """Migrate the store, serve the API and run the engine (SQLite under the data dir, or
    DATABASE_URL)."""
    settings = _settings(data_dir)
    runtime = open_runtime(settings)
    console.print(f"[bold]outdial {outdial.__version__}[/] store: {_where(settings)}")
    console.print(
        f"API:       http://{host}:{port}/api/v1  (docs: http://{host}:{port}/api/v1/docs)"
    )
    source = (
        "OUTDIAL_ADMIN_KEY"
        if os.environ.get("OUTDIAL_ADMIN_KEY")
        else settings.data_dir / "admin.key"
    )
    note = " [green](new)[/]" if settings.admin_key_generated else ""
    console.print(f"admin key: {settings.admin_key}{note}  (from {source})", soft_wrap=True)
    engine = (
        EngineThread(runtime.store, _engine_settings(), settings.secret_key)
        if with_engine
        else None
    )
    if engine is not None:
        engine.start()
        console.print("engine:    running (sim lines dial simulated callees)")
    jobs = runtime.services.job_runner()
    jobs.start()
    webhooks = WebhookThread(runtime.services, DeliverySettings.from_settings(runtime.settings))
    webhooks.start()
    console.print("webhooks:  delivering")
    try:
        uvicorn.run(runtime.app(), host=host, port=port, log_level="info")
    finally:
        webhooks.stop()
        jobs.stop()
        if engine is not None:
            engine.stop()
        runtime.store.close()


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = Path("data")) -> None:
    """Apply all migrations to the store."""
    settings = _settings(data_dir)
    store = Store.from_url(settings.database_url)
    try:
        before = current_revision(store.engine)
        upgrade(store.engine)
        console.print(f"{_where(settings)}: {before or 'empty'} → {head_revision(store.engine)}")
    finally:
        store.close()


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="Tenant name")],
    region: Annotated[str, typer.Option(help="Default region for phone numbers")] = "CN",
    timezone: Annotated[str, typer.Option(help="Default time zone")] = "Asia/Shanghai",
    data_dir: DataDir = Path("data"),
) -> None:
    """Create a tenant and print its first API key."""
    runtime = open_runtime(_settings(data_dir))
    try:
        data = validate(TenantIn, {"name": name, "default_region": region, "timezone": timezone})
        tenant = runtime.services.tenants.create(data)
    except OutdialError as exc:
        _fail(exc)
    finally:
        runtime.store.close()
    console.print(f"tenant {tenant['id']} {tenant['name']!r} created")
    console.print(f"api key: {tenant['api_key']}", soft_wrap=True)


@app.command()
def engine(data_dir: DataDir = Path("data")) -> None:
    """Run an engine worker alone (for PostgreSQL: start several; they share the campaigns)."""
    settings = _settings(data_dir)
    runtime = open_runtime(settings)
    worker = new_worker(runtime.store, _engine_settings(), settings.secret_key)
    console.print(f"engine worker {worker.worker_id} on {_where(settings)}")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    try:
        asyncio.run(main())
    finally:
        runtime.store.close()
    console.print("engine stopped")


@app.command()
def why(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id")],
    contact_id: Annotated[int, typer.Argument(help="Contact id")],
    data_dir: DataDir = Path("data"),
) -> None:
    """Why not now? Whether a contact may be dialed now, every reason not, and when it may."""
    runtime = open_runtime(_settings(data_dir))
    try:
        tenant = runtime.services.campaigns_tenant(campaign_id)
        answer = runtime.services.eligibility.explain(tenant, campaign_id, contact_id)
    except OutdialError as exc:
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        runtime.store.close()
    verdict = "[green]eligible now[/]" if answer["eligible"] else "[yellow]not now[/]"
    console.print(f"contact {contact_id} ({answer['phone']['number']}): {verdict}")
    for reason in answer["reasons"]:
        console.print(f"  - {reason}")
    console.print(
        f"next eligible at: {answer['next_eligible_at'] or 'never'}"
        f"  (zones: {', '.join(answer['time_zones'])})"
    )


@app.command("import")
def import_contacts(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id")],
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK) or XLSX contact file")],
    data_dir: DataDir = Path("data"),
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="COLUMN=ROLE",
            help="Say what a column holds (header or 1-based number; role: name, phone, relation,"
            " external_id, description, pass_through, timezone, attribute, skip); repeatable",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the rejected rows here (CSV)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Import a contact file into a campaign: its good rows, and a report of the others."""
    from outdial.services.imports import ImportProgress, report_csv

    overrides = {}
    for item in mapping or []:
        column, sep, role = item.partition("=")
        if not sep or not column or not role:
            err.print(f"[red]--map[/]: {item!r} is not COLUMN=ROLE")
            raise typer.Exit(2)
        overrides[column] = role
    if not file.is_file():
        err.print(f"[red]FILE[/]: no file {str(file)!r}")
        raise typer.Exit(2)
    runtime = open_runtime(_settings(data_dir))
    try:
        tenant = runtime.services.campaigns_tenant(campaign_id)
        with _bar() as bar, file.open("rb") as stream:
            task = bar.add_task(f"importing {file.name}", total=100.0, counts="")

            def advance(p: ImportProgress) -> None:
                counts = f"{p.rows_read:,} rows, {p.accepted:,} accepted, {p.rejected:,} rejected"
                bar.update(task, completed=p.percent, counts=counts)

            result = runtime.services.imports.run(
                tenant, campaign_id, stream, overrides, advance, path=file
            )
    except OutdialError as exc:
        _fail(exc)
    finally:
        runtime.store.close()
    if report is not None:
        report.write_text(report_csv(result.problems), encoding="utf-8")
    body = result.as_dict()
    if json_out:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    console.print(
        f"{file.name} ({body['format']}): {body['rows_read']:,} rows read, "
        f"[green]{body['accepted']:,} accepted[/], [yellow]{body['rejected']:,} rejected[/],"
        f" {body['empty_rows']:,} empty; the campaign holds {body['total_contacts']:,} contacts"
    )
    for problem in result.problems[:10]:
        console.print(f"  row {problem.row} {problem.column or '-'}: {problem.reason}")
    if len(result.problems) > 10:
        more = len(result.problems) - 10
        console.print(
            f"  … and {more:,} more" + (f" in {report}" if report else " (--report FILE)")
        )


def _bar() -> Any:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    return Progress(*columns, console=err, transient=True)


@app.command("export")
def export_campaign(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id")],
    file: Annotated[Path, typer.Argument(help="Where to write: a .csv or .xlsx file")],
    data_dir: DataDir = Path("data"),
    subject: Annotated[
        str, typer.Option(help="contacts (with their final outcome) or attempts (the ledger)")
    ] = "contacts",
    language: Annotated[str, typer.Option("--lang", help="Header language: en or zh")] = "en",
) -> None:
    """Export a campaign's contacts or attempts to CSV or XLSX (by the file's suffix)."""
    from outdial.services.exports import ExportRequest
    from outdial.services.models import ExportIn

    kind = file.suffix.lower().lstrip(".")
    try:
        request = validate(ExportIn, {"subject": subject, "format": kind, "language": language})
    except OutdialError as exc:
        _fail(exc, as_options=True)
    runtime = open_runtime(_settings(data_dir))
    try:
        tenant = runtime.services.campaigns_tenant(campaign_id)
        with _bar() as bar:
            task = bar.add_task(f"exporting {subject}", total=100.0, counts="")

            def advance(p: Mapping[str, Any]) -> None:
                counts = f"{p['rows_written']:,} of {p['rows_total']:,} rows"
                bar.update(task, completed=p["percent"], counts=counts)

            wanted = ExportRequest(request.subject, request.format, request.language)
            result = runtime.services.exports.run(tenant, campaign_id, wanted, file, advance)
    except OutdialError as exc:
        _fail(exc)
    finally:
        runtime.store.close()
    console.print(f"{file}: {result['rows']:,} {subject}, {result['bytes']:,} bytes")


@dnc_app.command("import")
def dnc_import(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX with a phone column")],
    data_dir: DataDir = Path("data"),
    tenant_id: Annotated[
        int | None,
        typer.Option("--tenant", help="The tenant's own list; without it the operator's list"),
    ] = None,
    reason: Annotated[str, typer.Option(help="Reason of rows without a notes column")] = "",
    source: Annotated[str, typer.Option(help="Where the numbers came from")] = "upload",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Put every number of a file on a do-not-call list."""
    from outdial.services.imports import ImportProgress
    from outdial.services.models import DncImportIn

    if not file.is_file():
        err.print(f"[red]FILE[/]: no file {str(file)!r}")
        raise typer.Exit(2)
    try:
        options = validate(DncImportIn, {"reason": reason, "source": source})
    except OutdialError as exc:
        _fail(exc, as_options=True)
    runtime = open_runtime(_settings(data_dir))
    try:
        tenant = None if tenant_id is None else runtime.services.tenant(tenant_id)
        with _bar() as bar, file.open("rb") as stream:
            task = bar.add_task(f"listing {file.name}", total=100.0, counts="")

            def advance(p: ImportProgress) -> None:
                counts = f"{p.rows_read:,} rows, {p.accepted:,} listed, {p.rejected:,} rejected"
                bar.update(task, completed=p.percent, counts=counts)

            result = runtime.services.dnc.import_file(tenant, stream, options, advance)
    except OutdialError as exc:
        _fail(exc)
    finally:
        runtime.store.close()
    body = result.as_dict()
    if json_out:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    whose = "the operator's list" if tenant_id is None else f"tenant {tenant_id}'s list"
    console.print(
        f"{file.name}: {body['rows_read']:,} rows, [green]{body['listed']:,} listed[/], "
        f"{body['already_listed']:,} already listed, [yellow]{body['rejected']:,} rejected[/];"
        f" {whose} holds {body['total_entries']:,} numbers"
    )
    for problem in body["problems"][:10]:
        console.print(f"  row {problem['row']} {problem['column']}: {problem['reason']}")


def _option(metavar: str, text: str) -> Any:
    return typer.Option(metavar=metavar, help=text)


@app.command()
def forecast(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id")],
    data_dir: DataDir = Path("data"),
    agents: Annotated[
        str | None, _option("N", "Team size (default: the skill group's logged-in agents)")
    ] = None,
    answer_rate: Annotated[
        str | None, _option("P", "Live answers per dial, 0 < P <= 1 (default: learnt)")
    ] = None,
    talk_seconds: Annotated[str | None, _option("S", "Mean talk seconds (default: learnt)")] = None,
    acw_seconds: Annotated[
        str | None, _option("S", "After-call work seconds (default: the campaign's)")
    ] = None,
    finish_by: Annotated[
        str | None,
        _option("WHEN", "ISO date-time with offset, or hours from now: find the agents needed"),
    ] = None,
    seeds: Annotated[str | None, _option("K", "Simulation seeds, 1-10 (default 3)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Forecast a campaign's remaining contacts: dialing hours, finish time, dials, connects,
    abandonment, occupancy; with --finish-by, the agents needed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from outdial.sim.forecast_report import forecast_json, forecast_tables

    params = {
        "agents": agents,
        "answer_rate": answer_rate,
        "talk_seconds": talk_seconds,
        "acw_seconds": acw_seconds,
        "finish_by": finish_by,
        "seeds": seeds,
    }
    runtime = open_runtime(_settings(data_dir))
    try:
        tenant = runtime.services.campaigns_tenant(campaign_id)
        columns = (SpinnerColumn(), TextColumn("{task.description}"))
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("simulating the campaign", total=None)

            def searching(text: str) -> None:
                progress.update(task, description=f"searching the team: {text}")

            answer = runtime.services.forecast.forecast(tenant, campaign_id, params, searching)
    except OutdialError as exc:
        _fail(exc, as_options=True)
    finally:
        runtime.store.close()
    if json_out:
        typer.echo(forecast_json(answer))
        return
    for table in forecast_tables(answer):
        console.print(table)
    for note in answer["notes"]:
        console.print(f"[dim]note:[/] {note}")


@app.command()
def simulate(
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file (TOML)", exists=True, dir_okay=False)
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON")
    ] = None,
    database_url: Annotated[str, typer.Option(help="Store for the run (default: in memory)")] = (
        "sqlite://"
    ),
) -> None:
    """Run one campaign in virtual time through the real engine and audit the guarantees."""
    from outdial.sim.report import print_report, run_with_progress

    report = run_with_progress(scenario, database_url, console)
    print_report(report, console)
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    if not all(g["passed"] for g in report["guarantees"].values()):
        raise typer.Exit(1)


@bench_app.command("pacing")
def bench_pacing(
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer replications and shorter shifts")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows as JSON")] = None,
    markdown_out: Annotated[
        Path | None, typer.Option("--markdown", help="Write the results as Markdown")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes (default: one per core)")] = 0,
    cells: Annotated[
        list[str] | None,
        typer.Option(
            "--cells",
            help="Only the cells whose name contains this word (repeatable), e.g. markov, churn",
        ),
    ] = None,
    policies: Annotated[
        list[str] | None,
        typer.Option(
            "--policies",
            help="Only these policies (repeatable), e.g. predictive, mdp-optimum; the checks"
            " against a policy left out are skipped",
        ),
    ] = None,
) -> None:
    """The pacing scenario matrix (dialing.md §5) for every policy on the same seeds; exits 1
    when the gate or a target is missed."""
    from rich.progress import Progress

    from outdial.sim import pacing_bench as bench
    from outdial.sim import pacing_report as report

    plan = bench.Plan.make(quick)
    if quick:
        console.print(
            f"[yellow]quick plan: fewer replications and {plan.hours:g}-h shifts;"
            " figures are noisier[/]"
        )
    only, chosen = tuple(cells or ()), tuple(policies or ())
    unknown = [p for p in chosen if p not in bench.POLICIES]
    if unknown:
        raise typer.BadParameter(f"unknown policies {unknown}; known: {bench.POLICIES}")
    command = "outdial bench pacing" + (" --quick" if quick else "")
    command += "".join(f" --cells {shlex.quote(word)}" for word in only)
    command += "".join(f" --policies {shlex.quote(p)}" for p in chosen)

    def save(rows: list[dict[str, Any]], complete: bool = False) -> None:
        """The files after every cell, so that a long plan cut short keeps its whole cells."""
        found = bench.checks(rows)
        if json_out is not None:
            json_out.write_text(json.dumps(report.json_rows(rows), indent=2))
        if markdown_out is not None:
            markdown_out.write_text(report.markdown(rows, found, plan, command, complete, only))

    with Progress(console=console) as progress:
        task = progress.add_task("pacing benchmark", total=bench.job_count(plan, only, chosen))
        with bench.pooled_runner(workers or None, lambda n: progress.advance(task, n)) as run:
            rows = bench.run_matrix(
                plan,
                run,
                lambda text: progress.update(task, description=text),
                save,
                only,
                chosen,
            )
    found = bench.checks(rows)
    for table in report.rich_tables(rows):
        console.print(table)
    console.print(report.rich_checks(found))
    save(rows, complete=True)
    if not all(c.passed for c in found):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
