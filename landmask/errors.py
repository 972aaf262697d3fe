"""Exception and warning types of landmask.

Every error caused by the user's input derives from :class:`InputError`; the CLI
prints its message on one line and exits with status 2. Anything else is an
internal error (exit status 1).
"""

from __future__ import annotations

__all__ = [
    "BandError",
    "ConfigError",
    "GridError",
    "InputError",
    "LandmaskError",
    "ModelError",
    "OutputExistsError",
    "ReadError",
    "RuleError",
    "SchedulerError",
    "TruthReprojectedWarning",
    "ZoneWarning",
]


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


class ModelError(InputError):
    """A model cannot be found or loaded, or does not follow the model protocol."""


class SchedulerError(InputError):
    """A Dask scheduler specification is invalid or the scheduler is unreachable."""


class TruthReprojectedWarning(UserWarning):
    """The truth was on another grid and was warped onto the prediction's grid."""


class ZoneWarning(UserWarning):
    """Zones were skipped, repaired or found outside the raster (zonal statistics)."""
