"""Sensor knowledge: presets (band tables, scale and offset), providers' products, times."""
