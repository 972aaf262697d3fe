"""Batch jobs: workflow files and the runner."""
