"""Sensor knowledge: presets (band tables, scale and offset), providers' products, times."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.io.sensors.presets import SENSORS, Sensor, get_sensor

__all__ = ["SENSORS", "Sensor", "get_sensor"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "SENSORS": "landmask.io.sensors.presets",
        "Sensor": "landmask.io.sensors.presets",
        "get_sensor": "landmask.io.sensors.presets",
    },
)
