"""Figures: matplotlib plots and PNG previews."""
