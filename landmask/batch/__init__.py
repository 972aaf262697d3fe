"""Batch jobs: workflow files and the runner."""

from __future__ import annotations

from landmask.batch.examples import make_example_data
from landmask.batch.run import run_workflow
from landmask.batch.workflow import Workflow, load_workflow

__all__ = ["Workflow", "load_workflow", "make_example_data", "run_workflow"]
