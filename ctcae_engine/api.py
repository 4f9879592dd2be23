"""The public grading doors: ``grade_labs``, ``grade_vitals``, ``grade_ecg`` for pandas or Dask input, and the
``df.ctcae`` accessor.

Grading itself (:mod:`ctcae_engine.grade.findings`) is pure pandas and knows nothing of Dask; the Dask engine
(:mod:`ctcae_engine.dask.engine`) runs it partition by partition. This module sits above both and sends a frame to
the one that takes it, so neither imports the other's caller. Each door keeps the signature and docstring of the
pandas function it fronts (``help(ce.grade_labs)``, ``help(df.ctcae.grade_labs)``).

Every public grader (these three, ``grade_crs``, ``grade_icans`` and ``validate_ae``) applies the reading rule for
repeated column names to a pandas frame first (:func:`ctcae_engine.read.columns.unique_columns`): columns whose names
are one name once blanks and case are ignored are kept once when they hold the same values (a ``UserWarning`` says
so; the output has that column once), and raise a ``ValueError`` naming them when they differ.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from ctcae_engine.grade import ae, cart, findings
from ctcae_engine.grade.febrile_neutropenia import febrile_neutropenia as febrile_neutropenia
from ctcae_engine.read.columns import unique_columns


def on_dask(df: object) -> bool:
    """Whether ``df`` is a Dask collection (decided without importing dask)."""
    return type(df).__module__.split(".")[0] in ("dask", "dask_expr")


def _unique(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """``df`` with repeated column names resolved by the reading rule (a warning per repeat dropped)."""
    frame, notes = unique_columns(df, name)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return frame


def _checked(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a grader taking a frame first) with the repeated-column rule applied to that frame."""

    @functools.wraps(func)
    def checked(df: pd.DataFrame, /, *args: Any, **kwargs: Any) -> Any:
        return func(_unique(df, func.__name__) if isinstance(df, pd.DataFrame) else df, *args, **kwargs)

    checked.__module__ = __name__
    return checked


grade_crs = _checked(cart.grade_crs)
grade_icans = _checked(cart.grade_icans)
validate_ae = _checked(ae.validate_ae)


def _door(kind: str) -> Callable[..., object]:
    """The pandas grader of ``kind``, or for a Dask frame the Dask engine running it (docs/dask.md)."""
    pandas_grader = _checked(findings.GRADERS[kind])

    @functools.wraps(pandas_grader)
    def door(df: object, /, **options: object) -> object:
        if on_dask(df):
            from ctcae_engine.dask import engine as dask_engine

            return dask_engine.grade(df, kind, **options)
        return pandas_grader(df, **options)

    door.__module__ = __name__
    return door


grade_labs = _door("lab")
grade_vitals = _door("vitals")
grade_ecg = _door("ecg")


def _method(door: Callable[..., object]) -> Callable[..., object]:
    """``door`` as a DataFrame method: the frame is the first argument, the signature shown is the door's."""

    def method(self: CtcaeAccessor, /, **options: object) -> object:
        return door(self._frame, **options)

    signature = inspect.signature(door)
    _, *rest = signature.parameters.values()
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *rest])
    method.__name__ = method.__qualname__ = door.__name__
    method.__doc__ = door.__doc__
    return method


@pd.api.extensions.register_dataframe_accessor("ctcae")
class CtcaeAccessor:
    """``df.ctcae.grade_labs(...)``: the grading doors of :mod:`ctcae_engine` as DataFrame methods."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    grade_labs = _method(grade_labs)
    grade_vitals = _method(grade_vitals)
    grade_ecg = _method(grade_ecg)
