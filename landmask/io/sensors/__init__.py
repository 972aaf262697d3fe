"""Sensor knowledge: presets (band tables, scale and offset), providers' products, times."""

from __future__ import annotations

from landmask.io.sensors.presets import SENSORS, Sensor, get_sensor

__all__ = ["SENSORS", "Sensor", "get_sensor"]
