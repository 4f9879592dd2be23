"""Command line: the door a scheduler uses. Thin: every command calls the package's functions."""

from __future__ import annotations

from pathlib import Path

import typer

from ctcae_terms import load_catalog

app = typer.Typer(add_completion=False, no_args_is_help=True, help="CTCAE v4.03 grading and DSMB safety reports.")


@app.command()
def catalog(version: str = typer.Option("4.03", help="CTCAE version: 4.03 (v4) or 5.0")) -> None:
    """Print the number of terms per SOC in a packaged CTCAE catalog."""
    frame = load_catalog(version)
    typer.echo(frame.groupby("soc").size().to_string())
    typer.echo(f"{len(frame)} terms in {frame['soc'].nunique()} SOCs (CTCAE v{version})")


@app.command()
def demo(out: Path = typer.Option("out/demo", help="Output folder")) -> None:
    """Run the main job on the embedded demo trial."""
    out.mkdir(parents=True, exist_ok=True)
    frame = load_catalog()
    typer.echo(f"CTCAE v4.03 catalog: {len(frame)} terms, {frame['soc'].nunique()} SOCs")


if __name__ == "__main__":
    app()
