"""Areas of masks: class areas, zonal statistics, change between dates."""
