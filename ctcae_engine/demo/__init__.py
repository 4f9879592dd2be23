"""The embedded demo trial (NCT04627740-shaped): configuration and generated data (see docs/demo_trial.md)."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR"]
