"""ctcae-engine: CTCAE v4.03 grading, safety aggregation and DSMB reporting.

The public face (each name is a function of the stage package that owns it)::

    import ctcae_engine as ce
    study = ce.load_demo()                          # or ce.read_study("folder")
    labs = ce.grade_labs(study["lb"], first_dose=study["dm"])
    results = ce.run_study(None)                    # the demo trial, every table of the registry

Importing the package registers the ``df.ctcae`` accessor (``df.ctcae.grade_labs(...)``). Heavy modules (the
pipeline, the report) are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"
CTCAE_VERSION = "4.03"

_PUBLIC = {
    "grade_labs": "ctcae_engine.api", "grade_vitals": "ctcae_engine.api", "grade_ecg": "ctcae_engine.api",
    "grade_crs": "ctcae_engine.api", "grade_icans": "ctcae_engine.api", "validate_ae": "ctcae_engine.api",
    "febrile_neutropenia": "ctcae_engine.api",
    "read_study": "ctcae_engine.read.files", "run_study": "ctcae_engine.run.pipeline",
    "load_demo": "ctcae_engine.demo", "load_config": "ctcae_engine.read.config",
    "to_adlb": "ctcae_engine.write.adam", "to_advs": "ctcae_engine.write.adam", "to_adeg": "ctcae_engine.write.adam",
    "to_adae": "ctcae_engine.write.adam",
}
__all__ = ["CTCAE_VERSION", "__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ctcae_engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


import_module("ctcae_engine.api")  # registers the df.ctcae accessor
