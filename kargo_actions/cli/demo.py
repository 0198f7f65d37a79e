"""`kargo-actions demo`: run the bundled pipeline against local servers; `--keep` leaves them up for the tour."""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the servers running, print the pipeline's directory and a cd/export line for the "
    "README's tour, and stop them at Ctrl-C.",
)
def demo_command(keep: bool) -> int:
    """Discover and promote the bundled pipeline against a local registry and git server.

    Needs docker-registry, skopeo and git (Debian: apt-get install docker-registry skopeo git); nothing
    leaves 127.0.0.1. Exits 3 naming what to install when one is missing.
    """
    from kargo_actions.demo.run import run_demo

    return run_demo(keep=keep)
