"""Running a workflow: many scenes on one Dask scheduler, resumable and fault-isolated.

:func:`run_workflow` expands a :class:`~landmask.batch.workflow.Workflow` into scenes
and processes several at once (``parallel_scenes`` threads, each submitting its
scene's graph to the shared scheduler: threads, processes, a ``LocalCluster`` or
an existing cluster). Per scene it opens the inputs, classifies
lays the quality layer over the mask, and writes the mask COG and the optional
polygons and indices, each atomically: the same steps as ``landmask classify``
(:func:`landmask.pipeline.run_scene`), so one scene gives the same files.

A **manifest** (``.landmask-manifest.json`` in the output folder) records each
finished scene with a fingerprint of its inputs (path, size, modification time
of every file, the STAC item's content) and of the settings that shape its
outputs. A rerun skips a scene whose fingerprint is unchanged and whose outputs
exist, without opening its rasters; a changed scene is redone. A scene that
fails is reported with its error, its partial outputs are removed, and the other
scenes go on. Nothing is ever written into the inputs. With ``outputs.stac``
(the default) every output has its STAC item beside it and ``catalog.json`` in
the output folder links the items of every finished scene.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TextIO

from landmask import __version__
from landmask._runtime.chunks import check_chunk_size
from landmask._runtime.schedulers import use_scheduler
from landmask._runtime.signals import finishing
from landmask.batch.manifest import MANIFEST_NAME, Manifest, output_stamp
from landmask.batch.progress import RunProgress
from landmask.batch.region import (
    plan_region,
    process_tile,
    region_inputs,
    tile_fingerprint,
    tile_planned,
    write_mosaic,
)
from landmask.batch.region_statistics import settle_statistics
from landmask.batch.summary import RunSummary, SceneResult
from landmask.batch.workflow import ModelClassifier, RulesClassifier, SceneInput, Workflow
from landmask.errors import ConfigError, LandmaskError
from landmask.io.companions import Output, is_own, item_path
from landmask.io.outputs import plan_outputs, write_json
from landmask.io.read.datasets import kept_open
from landmask.io.read.scene import SceneOptions
from landmask.io.stac.items import CATALOG_NAME, write_catalog
from landmask.io.stac.read import item_bands
from landmask.io.statistic_tags import thresholds_of
from landmask.io.write.mosaic import MOSAIC_MARK
from landmask.pipeline import SceneJob, VectorOptions, job_inputs, run_scene
from landmask.vector.formats import check_vector_output

__all__ = [
    "MANIFEST_NAME",
    "RunSummary",
    "SceneResult",
    "fingerprint",
    "landmask_wrote",
    "plan_run",
    "run_workflow",
    "scene_job",
]

log = logging.getLogger(__name__)


Classifier = RulesClassifier | ModelClassifier


# ---------------------------------------------------------------------- fingerprints


def _file_stamp(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def _settings(workflow: Workflow) -> dict[str, Any]:
    """The settings that shape a scene's outputs (not where or how fast it runs)."""
    data = workflow.model_dump(
        mode="json",
        exclude={"name", "scheduler", "parallel_scenes", "chunk_size", "source"},
    )
    data["outputs"].pop("summary", None)
    data["outputs"]["dir"] = str(workflow.out_dir.resolve())
    if isinstance(workflow.classifier, RulesClassifier):
        spec = Path(workflow.rules_spec())
        if spec.is_file():
            data["rules_sha256"] = hashlib.sha256(spec.read_bytes()).hexdigest()
    else:
        path = Path(workflow.model_spec().partition(":")[2])
        if path.is_file():
            data["model_file"] = _file_stamp(str(path))
    data["landmask"] = __version__
    return data


def fingerprint(workflow: Workflow, scene: SceneInput) -> str:
    """SHA-256 of a scene's inputs (files by path, size, mtime; STAC item content) and settings.

    Reads no raster: only file metadata and the item's JSON.
    """
    inputs: list[Any]
    if scene.item is not None:
        doc = json.dumps(scene.item.to_dict(include_self_link=False), sort_keys=True)
        try:
            files = list(dict.fromkeys(b.href for b in item_bands(scene.item)))
        except LandmaskError:
            files = []
        inputs = [hashlib.sha256(doc.encode()).hexdigest(), *map(_file_stamp, files)]
    else:
        inputs = [_file_stamp(p) for p in scene.files]
    payload = json.dumps({"inputs": inputs, "settings": _settings(workflow)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


# ---------------------------------------------------------------------- one scene


def _outputs(workflow: Workflow, stem: str) -> dict[str, Path]:
    return workflow.output_paths(stem, ("mask", "vector", "indices", "probabilities"))


def scene_job(workflow: Workflow, scene: SceneInput, chunk_size: int) -> SceneJob:
    """The :class:`~landmask.pipeline.SceneJob` of one scene of a workflow.

    ``{rules: NAME|FILE}`` and ``{model: SPEC}`` become one model spec (a file
    resolved against the workflow's folder); outputs replace earlier ones,
    since the manifest decides what is redone.
    """
    spec, confidence = workflow.classifier_spec()
    outputs = _outputs(workflow, scene.stem)
    settings = workflow.vector
    return SceneJob(
        inputs=scene.item if scene.item is not None else list(scene.files),
        mask=outputs["mask"],
        scene=SceneOptions(
            sensor=workflow.sensor,
            bands=workflow.bands,
            scale=workflow.scale,
            offset=workflow.offset,
            resolution=workflow.resolution,
        ),
        model=spec,
        min_confidence=confidence,
        quality=workflow.quality,
        probabilities=outputs.get("probabilities"),
        vector=outputs.get("vector"),
        vector_options=VectorOptions(
            settings.classes, settings.connectivity, settings.min_area, settings.simplify
        ),
        indices=outputs.get("indices"),
        index_names=tuple(workflow.indices),
        chunk_size=chunk_size,
        overwrite=True,
        stac=workflow.outputs.stac,
        labels={**{k: f"outputs.{k}" for k in outputs}, "classes": "vector.classes"},
    )


def process_scene(workflow: Workflow, scene: SceneInput, chunk_size: int) -> SceneResult:
    """Open, classify and write one scene with :func:`landmask.pipeline.run_scene`.

    Every output is written atomically and replaces an earlier one; if any step
    fails, the outputs this call wrote are removed again (errors propagate).
    """
    start = time.perf_counter()
    if scene.error is not None:
        raise ConfigError(scene.error)
    job = scene_job(workflow, scene, chunk_size)
    outcome = run_scene(job)
    scheme = outcome.scheme
    return SceneResult(
        scene=scene.stem,
        status="done",
        seconds=time.perf_counter() - start,
        pixels={scheme.name_of(c): n for c, n in sorted(outcome.counts.items())},
        outputs={k: str(v) for k, v in job.outputs().items()},
        radiometry=outcome.mask.attrs.get("radiometry"),
        radiometry_basis=outcome.mask.attrs.get("radiometry_basis"),
        statistics=_printable(thresholds_of(outcome.mask.attrs)) or {},
    )


def _printable(values: Mapping[str, float] | None) -> dict[str, float | None] | None:
    """Statistics for a summary: NaN (no valid pixel) as None."""
    if values is None:
        return None
    return {name: value if math.isfinite(value) else None for name, value in values.items()}


# ---------------------------------------------------------------------- the run


def run_workflow(
    workflow: Workflow,
    *,
    scheduler: str | None = None,
    force: bool = False,
    chunk_size: int | None = None,
    quiet: bool = True,
    progress: bool | None = None,
    out: TextIO | None = None,
) -> RunSummary:
    """Run every scene of ``workflow``; return the summary (also written as JSON).

    Parameters
    ----------
    workflow
        From :func:`~landmask.batch.workflow.load_workflow`.
    scheduler
        Overrides the workflow's ``scheduler`` (``threads``, ``processes``,
        ``synchronous``, ``local:N``, ``tcp://host:port``).
    force
        Redo every scene, finished or not.
    chunk_size
        Overrides the workflow's ``chunk_size``.
    quiet
        No per-scene lines and no progress bar.
    progress
        Draw the live bar (default: when ``out`` is a terminal).
    out
        Where scene lines and the bar go (default stderr).

    Raises
    ------
    ConfigError, SchedulerError
        Before any scene runs: bad inputs (no match, colliding names), an
        output folder that cannot be made, a bad scheduler spec. Errors of a
        scene never propagate: they are in its :class:`SceneResult`.
    """

    start = time.perf_counter()
    spec = scheduler or workflow.scheduler
    size = check_chunk_size(chunk_size or workflow.chunk_size)
    region = None
    if workflow.is_region:
        region = plan_region(workflow)
        scenes: list[Any] = list(region.tiles)
    else:
        scenes = workflow.scenes()
    out_dir = workflow.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{workflow.source}: key 'outputs.dir': cannot create {out_dir} ({exc})"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"{workflow.source}: key 'outputs.dir': {out_dir} is not writable")
    if region is not None:
        plan_region_run(workflow, region, size, force)
        settings = _settings(workflow)

        def fingerprint_of(unit: Any) -> str:
            return tile_fingerprint(settings, region, unit)

        def process(unit: Any) -> SceneResult:
            return process_tile(workflow, region, unit, size)
    else:
        plan_run(workflow, scenes, size, force)

        def fingerprint_of(unit: Any) -> str:
            return fingerprint(workflow, unit)

        def process(unit: Any) -> SceneResult:
            return process_scene(workflow, unit, size)

    manifest = Manifest(out_dir / MANIFEST_NAME)
    if region is not None:  # before the fingerprints: the tiles' rules are bound to them
        with kept_open():
            region.statistics = settle_statistics(
                workflow, region, size, manifest, settings, force=force, scheduler=spec
            )
    results: dict[str, SceneResult] = {}
    todo: list[tuple[Any, str]] = []
    for scene in scenes:
        fp = fingerprint_of(scene)
        entry = None if force else manifest.finished(scene.stem, fp)
        if entry is not None:
            results[scene.stem] = SceneResult(
                scene.stem,
                "skipped",
                pixels=dict(entry.get("pixels", {})),
                outputs=dict(entry.get("outputs", {})),
            )
        else:
            todo.append((scene, fp))
    report = RunProgress(len(scenes), quiet=quiet, bar=progress, out=out or sys.stderr)
    for stem, skipped in results.items():
        log.debug("%s: skipped", stem)
        report.ended(skipped)

    def one(scene: Any, fp: str) -> SceneResult:
        report.started()
        t0 = time.perf_counter()
        try:
            result = process(scene)
        except Exception as exc:
            log.debug("%s failed", scene.stem, exc_info=True)
            manifest.record(scene.stem, None)
            message = str(exc) if isinstance(exc, LandmaskError) else f"{type(exc).__name__}: {exc}"
            return SceneResult(scene.stem, "failed", time.perf_counter() - t0, error=message)
        manifest.record(
            scene.stem,
            {
                "fingerprint": fp,
                "outputs": result.outputs,
                "stamps": {k: output_stamp(v) for k, v in result.outputs.items()},
                "pixels": result.pixels,
                "seconds": round(result.seconds, 3),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        return result

    def summarize() -> RunSummary:
        # scenes a signal stopped (or never started) are "interrupted"
        missing = SceneResult("", "interrupted", error="interrupted")
        done = [results.get(s.stem) or dataclasses.replace(missing, scene=s.stem) for s in scenes]
        summary = RunSummary(workflow.name, spec, done, time.perf_counter() - start)
        if region is not None:
            summary.region = region.counts()
            summary.statistics = _printable(region.statistics)
            write_mosaic(workflow, region, summary)
        write_json(out_dir / workflow.outputs.summary, summary.to_dict(), overwrite=True)
        if workflow.outputs.stac:  # catalog.json: the items of every finished scene
            finished = [s for s in summary.scenes if s.status in ("done", "skipped")]
            paths = [path for s in finished for path in s.outputs.values()]
            write_catalog(out_dir, paths, title=f"landmask run {workflow.name}")
        return summary

    if todo:
        # kept_open: each worker thread opens an input file once, not once per chunk
        with kept_open(), use_scheduler(spec) as info, report.active(info.client):
            pool = ThreadPoolExecutor(max_workers=workflow.parallel_scenes)
            try:
                futures = {pool.submit(one, s, fp): s for s, fp in todo}
                for future in as_completed(futures):
                    result = future.result()
                    results[result.scene] = result
                    report.ended(result)
            except KeyboardInterrupt:
                # SIGINT/SIGTERM: queued scenes dropped, running ones stop at their
                # next task and remove what they wrote (waited for: none publishes
                # later); the summary says what finished, the manifest has it
                pool.shutdown(wait=True, cancel_futures=True)
                with finishing():
                    summarize()
                raise
            pool.shutdown(wait=True)
    return summarize()


def plan_run(workflow: Workflow, scenes: list[SceneInput], chunk_size: int, force: bool) -> None:
    """Check every output of every scene, the manifest and the summary, before any work.

    Refused with one line: an output outside ``outputs.dir`` (a ``../`` in
    ``name``, a STAC id or ``outputs.summary``), two outputs or companions
    naming one file (within a scene or across the scenes, or the summary,
    manifest or ``catalog.json``), an output that would replace an input of
    any scene, a FIFO among the inputs, an existing file landmask did not
    write for that output (:func:`landmask_wrote`; with ``force``, outputs are
    replaced, but never a companion that is not landmask's).
    """

    out_dir = workflow.out_dir
    outputs: dict[str, Path | Output] = {
        "outputs.summary": out_dir / workflow.outputs.summary,
        "the manifest": out_dir / MANIFEST_NAME,
    }
    if workflow.outputs.stac:
        outputs["the run's catalog.json"] = out_dir / CATALOG_NAME
    inputs: list[str] = []
    checks = {}
    for scene in scenes:
        if scene.error is not None:
            continue
        job = scene_job(workflow, scene, chunk_size)
        inputs += job_inputs(job)
        for key, output in job.planned().items():
            label = f"outputs.{key} of scene {scene.stem}"
            outputs[label] = output
            if key == "vector":
                checks[label] = check_vector_output
    ours = landmask_wrote(workflow)
    plan_outputs(
        outputs,
        inputs,
        overwrite=force,
        root=out_dir,
        root_label=f"outputs.dir ({workflow.source})",
        checks=checks,
        own=ours,
    )


def plan_region_run(workflow: Workflow, plan: Any, chunk_size: int, force: bool) -> None:
    """:func:`plan_run` for a region run: every tile's outputs, the mosaic and its collection.

    Refused with one line as :func:`plan_run` refuses: outputs outside
    ``outputs.dir``, colliding, over an input or over a file landmask did not
    write.
    """

    out_dir = workflow.out_dir
    outputs: dict[str, Path | Output] = {
        "outputs.summary": out_dir / workflow.outputs.summary,
        "the manifest": out_dir / MANIFEST_NAME,
        "outputs.mosaic": out_dir / workflow.outputs.mosaic,
    }
    if workflow.outputs.stac:
        outputs["the run's catalog.json"] = out_dir / CATALOG_NAME
        outputs["outputs.collection"] = out_dir / workflow.outputs.collection
    checks = {}
    for unit in plan.tiles:
        for key, output in tile_planned(workflow, unit.stem).items():
            label = f"outputs.{key} of tile {unit.stem}"
            outputs[label] = output
            if key == "vector":
                checks[label] = check_vector_output
    plan_outputs(
        outputs,
        region_inputs(workflow, plan),
        overwrite=force,
        root=out_dir,
        root_label=f"outputs.dir ({workflow.source})",
        checks=checks,
        own=landmask_wrote(workflow),
    )


def landmask_wrote(workflow: Workflow) -> Callable[[Path], bool]:
    """Whether a file in a run's output folder is one landmask wrote there (may be replaced).

    The manifest, a summary or ``catalog.json`` landmask wrote, an output a
    scene of the manifest records, or an output whose STAC item landmask wrote
    for it (an output that landed before a SIGKILL kept it out of the manifest).
    """

    out_dir = workflow.out_dir
    recorded = {
        Path(p).resolve()
        for entry in Manifest(out_dir / MANIFEST_NAME).scenes.values()
        for p in dict(entry.get("outputs", {})).values()
    }

    def own(path: Path) -> bool:
        resolved = path.resolve()
        if resolved == (out_dir / MANIFEST_NAME).resolve():
            return _json_keys(path) >= {"version", "scenes"}
        if resolved == (out_dir / workflow.outputs.summary).resolve():
            return _json_keys(path) >= {"workflow", "scenes"}
        if resolved == (out_dir / CATALOG_NAME).resolve():
            return is_own(path, "catalog", path)
        if workflow.is_region and resolved == (out_dir / workflow.outputs.mosaic).resolve():
            return _head(path).startswith(MOSAIC_MARK)
        if workflow.is_region and resolved == (out_dir / workflow.outputs.collection).resolve():
            return _json_keys(path) >= {"type", "extent", "landmask:region"}
        return resolved in recorded or is_own(item_path(path), "item", path)

    return own


def _head(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(len(MOSAIC_MARK))
    except OSError:
        return ""


def _json_keys(path: Path) -> set[str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return set(doc) if isinstance(doc, dict) else set()


def manifest_entries(out_dir: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The finished scenes recorded in an output folder's manifest."""
    return Manifest(Path(out_dir) / MANIFEST_NAME).scenes
