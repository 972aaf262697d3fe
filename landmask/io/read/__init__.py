"""Reading: scenes into lazy ``(band, y, x)`` reflectance, masks and images, on one grid."""
