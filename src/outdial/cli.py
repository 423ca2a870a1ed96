"""The ``outdial`` command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

import outdial
from outdial.domain.errors import OutdialError
from outdial.runtime import open_runtime
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


def _where(settings: Settings) -> str:
    return normalise_url(settings.database_url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    data_dir: DataDir = Path("data"),
) -> None:
    """Migrate the store and serve the API (SQLite under the data dir, or DATABASE_URL)."""
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
    try:
        uvicorn.run(runtime.app(), host=host, port=port, log_level="info")
    finally:
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
        for detail in exc.details:
            err.print(f"[red]{detail.field}[/]: {detail.message}")
        err.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        runtime.store.close()
    console.print(f"tenant {tenant['id']} {tenant['name']!r} created")
    console.print(f"api key: {tenant['api_key']}", soft_wrap=True)


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


if __name__ == "__main__":
    app()
