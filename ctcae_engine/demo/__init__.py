"""The embedded demo trial (NCT04627740-shaped): configuration and generated data (see docs/demo_trial.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR", "load_demo"]


def load_demo() -> dict[str, pd.DataFrame]:
    """The demo trial's SDTM domains as read by :func:`ctcae_engine.read.files.read_study` (domain -> frame)."""
    from ctcae_engine.read.files import read_study

    return read_study(DATA_DIR)
