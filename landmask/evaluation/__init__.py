"""Masks against ground truth: truth readers, confusion matrices, area-adjusted accuracy."""
