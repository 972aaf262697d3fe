"""Writing tables as CSV that GIS clients read typed: a ``.csvt`` beside every ``.csv``.

OGR (and so QGIS) reads every column of a bare CSV as ``String``; a ``.csvt``
file of the same stem lists each column's type on one line (``"String",
"Real"``), which OGR's CSV driver reads. Both files are published together,
atomically (:func:`landmask.io.outputs.atomic_path`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from landmask.io.companions import Output, types_path
from landmask.io.outputs import atomic_path, attach_sidecars, plan_outputs

__all__ = ["csv_types", "csvt_path", "write_csv"]


def csvt_path(path: str | os.PathLike[str]) -> Path:
    """The column types of a CSV file: ``areas.csv`` -> ``areas.csvt`` (one rule: companions)."""
    return types_path(path)


def csv_types(table: Any) -> str:
    """The ``.csvt`` line of a pandas DataFrame: an OGR type per column, in order.

    Integers are ``Integer64``, floats ``Real``, booleans ``Integer(Boolean)``,
    everything else ``String``.
    """
    import pandas as pd

    types = []
    for column in table.columns:
        dtype = table[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            types.append('"Integer(Boolean)"')
        elif pd.api.types.is_integer_dtype(dtype):
            types.append('"Integer64"')
        elif pd.api.types.is_float_dtype(dtype):
            types.append('"Real"')
        else:
            types.append('"String"')
    return ",".join(types) + "\n"


def write_csv(table: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a pandas DataFrame as ``path`` (no index) with its ``.csvt`` beside it.

    Returns
    -------
    Path
        The CSV's path.
    """
    out = Path(path)
    plan_outputs({"the output": Output(out, "table")}, overwrite=overwrite)
    with atomic_path(out, overwrite=overwrite) as tmp:
        table.to_csv(tmp, index=False)
        attach_sidecars(tmp, {csvt_path(out): csv_types(table)})
    return out
