"""STAC: reading items and collections (read) and writing an item beside every output (items)."""
