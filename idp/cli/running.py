"""`idp serve` and `idp demo`."""

from __future__ import annotations

import sys

import click

from idp.cli import Context, main, pass_context


@main.command("serve")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int)
@click.option("--threads", type=int)
@pass_context
def serve(ctx: Context, host, port, workers, threads) -> None:
    """Run the provider under gunicorn (workers and threads from config)."""
    from idp.serve import run

    server = ctx.settings.server
    run(ctx.settings, host or server.host, port or server.port, workers or server.workers,
        threads or server.threads)


@main.command("demo")
@click.option("--port", type=int, default=5000, show_default=True,
              help="Provider port; the portals use the next two.")
@click.option("--dir", "directory", default="var/demo", show_default=True)
def demo(port: int, directory: str) -> None:
    """Set up and start the provider and two demo portals on 127.0.0.1."""
    from idp.demo import run_demo

    sys.exit(run_demo(directory, port))
