"""Exception and warning types of landmask.

Every error caused by the user's input derives from :class:`InputError`; the CLI
prints its message on one line and exits with status 2. Anything else is an
internal error (exit status 1).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = [
    "BandError",
    "ConfigError",
    "DateSkippedWarning",
    "GridError",
    "HoldoutWarning",
    "InputError",
    "LandmaskError",
    "MaskWarpedWarning",
    "ModelError",
    "ModelMismatchError",
    "NodataFootprintWarning",
    "OutputExistsError",
    "PresetAssumedWarning",
    "ReadError",
    "RuleError",
    "SchedulerError",
    "SensorError",
    "TruthReprojectedWarning",
    "UncalibratedWarning",
    "WriteError",
    "ZoneWarning",
    "command_line",
    "option",
]

_COMMAND_LINE = contextvars.ContextVar("landmask_command_line", default=False)


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Word messages for the command line while inside (``--overwrite``, not ``overwrite=True``)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option(flag: str, keyword: str) -> str:
    """How a message names a choice: the CLI ``flag`` under :func:`command_line`,
    else the Python ``keyword`` (``option("--overwrite", "overwrite=True")``)."""
    return flag if _COMMAND_LINE.get() else keyword


class LandmaskError(Exception):
    """Root of landmask's exceptions."""


class InputError(LandmaskError, ValueError):
    """Bad input from the user: a file, an option or a configuration."""


class ReadError(InputError, OSError):
    """A raster is missing, unreadable or corrupt."""


class GridError(InputError):
    """Inputs are not on one pixel grid, or a raster lacks georeferencing."""


class BandError(InputError, KeyError):
    """A band is missing, out of range or cannot be named."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RuleError(InputError):
    """A rule set or expression is invalid."""


class ConfigError(InputError):
    """An option or configuration value is invalid."""


class OutputExistsError(InputError, FileExistsError):
    """The output exists and overwriting was not requested."""


class WriteError(InputError, OSError):
    """An output cannot be written: the disk is full or the folder refuses it."""


class ModelError(InputError):
    """A model cannot be found or loaded, or does not follow the model protocol."""


class SensorError(ConfigError):
    """The files' provider names or metadata contradict the sensor or band options.

    For example ``--sensor sentinel2-l2a`` on ``LC08_..._SR_B4.TIF`` files, or
    ``--band red=1`` naming a file whose provider suffix says it is another band.
    """


class ModelMismatchError(ConfigError):
    """A scene option contradicts what a model records of the scene it was trained on."""


class SchedulerError(InputError):
    """A Dask scheduler specification is invalid or the scheduler is unreachable."""


class TruthReprojectedWarning(UserWarning):
    """The truth was on another grid and was warped onto the prediction's grid."""


class MaskWarpedWarning(UserWarning):
    """A mask was on another grid and was warped onto the first mask's grid (change)."""


class DateSkippedWarning(UserWarning):
    """A scene was left out of a composite (acquired outside the period)."""


class HoldoutWarning(UserWarning):
    """``train`` could hold out no whole polygons or blocks: the report has no hold-out score."""


class UncalibratedWarning(UserWarning):
    """Digital numbers are read with no scale: not reflectance.

    Emitted once per :func:`~landmask.open_scene` call when a band has no scale
    or offset from the options, the sensor preset, the STAC item or the file
    itself and is an integer band, or a floating-point band whose sampled values
    are far above any reflectance (:mod:`landmask.io.read.radiometry`).
    """


class NodataFootprintWarning(UserWarning):
    """One band has no data over more than a tenth of the map where the others have data
    (:func:`landmask.io.read.footprint.warn_nodata_footprint`)."""


class PresetAssumedWarning(UserWarning):
    """A sensor preset had to assume what the files' names and metadata do not say.

    For example Landsat 8/9 band numbers for ``*_SR_B4.TIF`` files with no
    product id and no MTL file, or the Sentinel-2 offset of processing baseline
    04.00 for a product sensed before 2022-01-25 with no baseline given.
    """


class StatisticWarning(UserWarning):
    """A scene-wide statistic of a rule set (``otsu(ndvi)``, ``percentile(red, 1)``) has no
    valid pixel (the mask is then all nodata) or lands outside its quantity's plausible range.
    """


class ZoneWarning(UserWarning):
    """Zones were skipped, repaired or found outside the raster (zonal statistics)."""
