"""Batch jobs: workflow files and the runner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmask._runtime.exports import export_lazily

if TYPE_CHECKING:  # for type checkers; at run time each name is imported on first use
    from landmask.batch.examples import make_example_data
    from landmask.batch.run import run_workflow
    from landmask.batch.workflow import Workflow, load_workflow

__all__ = ["Workflow", "load_workflow", "make_example_data", "run_workflow"]

# a command imports the modules it uses, not every export of the package (start-up time)
export_lazily(
    __name__,
    {
        "Workflow": "landmask.batch.workflow",
        "load_workflow": "landmask.batch.workflow",
        "make_example_data": "landmask.batch.examples",
        "run_workflow": "landmask.batch.run",
    },
)
