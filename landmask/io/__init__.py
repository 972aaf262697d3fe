"""Reading scenes and writing rasters: scenes, sensors, STAC, resampling, masks, outputs."""
