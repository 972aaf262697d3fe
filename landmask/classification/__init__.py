"""Reflectance to class ids: rules or a model, and quality (cloud) masking."""
