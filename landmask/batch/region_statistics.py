"""Region-wide statistics: one set of values for the rules of every tile of a region run.

A rule set's scene-wide statistics (``otsu(ndvi)``, ``percentile(nir, 1)``,
the stretches of ``adaptive``; :mod:`landmask.spectral.thresholds`) stand for
numbers of the whole map. In a region run the map is the region: each
statistic is computed once over every tile's composite
(:func:`compute_region_statistics`), streaming over the tiles' chunks with the
chunked histograms of a scene (the tiles are the parts of one histogram, each
counted on its own window, with the context its argument's neighbourhood
functions read), and every tile's rules are bound to those values. The tiles'
mosaic is then the mask of the region classified as one scene: no seam where
two tiles would have found different thresholds.

Cost: one pass of compositing over the region per level of nesting (the
statistics inside another's argument first: ``adaptive``'s percentiles, then
its Otsu split), before the tiles' one classifying pass.

The values are recorded in the run's manifest with the fingerprint of what
they come from (:func:`statistics_fingerprint`: the region, the inputs of
every tile, the settings): a resumed run binds the recorded values and
computes nothing; other inputs or settings, or ``--force``, compute them
again. They are printed in the run's summary and written in every tile's mask
tags and STAC item and in the region's collection.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from landmask._runtime.schedulers import use_scheduler
from landmask.batch.manifest import Manifest
from landmask.batch.region import RegionPlan, tile_composite, tile_fingerprint
from landmask.batch.workflow import RulesClassifier, Workflow
from landmask.errors import ConfigError, InputError
from landmask.models.registry import load_model
from landmask.spectral.rules import RuleSet
from landmask.spectral.thresholds import (
    Part,
    compute_statistics,
    statistic_calls,
    statistic_reach,
    warn_statistics,
)

__all__ = [
    "compute_region_statistics",
    "region_rules",
    "settle_statistics",
    "statistics_fingerprint",
]


def region_rules(workflow: Workflow) -> RuleSet | None:
    """The rule set of a workflow's classifier if it has scene-wide statistics, else None.

    Rules given as ``{rules: ...}`` or as a ``rules:`` model spec; other models
    have none.

    Raises
    ------
    ConfigError
        The rules cannot be loaded (one line naming the key).
    """
    spec, _ = workflow.classifier_spec()
    key = "classifier.rules" if isinstance(workflow.classifier, RulesClassifier) else "classifier"
    try:
        model = load_model(spec)
    except InputError as exc:
        raise ConfigError(f"{workflow.source}: key '{key}': {exc}") from None
    ruleset = getattr(model, "ruleset", None)
    if not isinstance(ruleset, RuleSet) or not statistic_calls(ruleset):
        return None
    return ruleset


def statistics_fingerprint(settings: dict[str, Any], plan: RegionPlan) -> str:
    """SHA-256 of what a region's statistics come from: every tile's fingerprint.

    Each covers the tile's grid, the region's grid, the scenes reaching the
    tile (files' size and mtime, items' content) and the settings (the rules
    among them); the statistics themselves are left out. Reads no raster.

    Parameters
    ----------
    settings
        The run's settings (the rules among them).
    plan
        The region plan: its tiles and the scenes reaching each.

    Returns
    -------
    str
        The hexadecimal digest.
    """
    unbound = dataclasses.replace(plan, statistics=None)
    prints = [tile_fingerprint(settings, unbound, unit) for unit in plan.tiles]
    return hashlib.sha256(json.dumps(prints).encode()).hexdigest()


def compute_region_statistics(
    workflow: Workflow, plan: RegionPlan, ruleset: RuleSet, chunk_size: int
) -> dict[str, float]:
    """Every scene-wide statistic of ``ruleset`` over the whole region, by label.

    Each tile a date reaches is composited on its grid grown by the reach of
    the statistics' arguments (:func:`landmask.spectral.thresholds.statistic_reach`,
    clipped to the region) and counted on the tile's own window, so every
    pixel of the region counts once, with the neighbours a whole-region
    composite would give it (:func:`landmask.spectral.thresholds.compute_statistics`:
    integer histograms added up, the same for any tiling, chunking or
    scheduler). A tile no date reaches has no valid pixel and is not read.
    One pass over the tiles per level of nesting; the warnings a scene's
    statistics give are given once, for the region
    (:func:`landmask.spectral.thresholds.warn_statistics`).

    Returns
    -------
    dict
        ``{label: value}`` as :attr:`RuleSet.thresholds <landmask.spectral.rules.RuleSet>`
        names them; NaN for a statistic with no valid pixel in the region (every
        tile's mask is then all nodata).
    """
    reach = statistic_reach(ruleset)

    def parts() -> Iterator[Part]:
        for unit in plan.tiles:
            if not unit.scenes:
                continue
            grid, window = plan.context(unit.tile, reach)
            arr = tile_composite(workflow, plan, unit, chunk_size, grid)
            yield arr, window if reach else None

    bound = compute_statistics(ruleset, parts)
    warn_statistics(ruleset, bound, over="region")
    return {ruleset.label(call): value for call, value in bound.items()}


def settle_statistics(
    workflow: Workflow,
    plan: RegionPlan,
    chunk_size: int,
    manifest: Manifest,
    settings: dict[str, Any],
    *,
    force: bool,
    scheduler: str,
) -> dict[str, float] | None:
    """The region-wide statistics of a run: those the manifest records, else computed.

    Recorded values whose fingerprint (:func:`statistics_fingerprint`) matches
    are taken as they are (a resumed run binds what the interrupted one did,
    and starts no scheduler for them); otherwise, or with ``force``, they are
    computed on ``scheduler`` (a spec of
    :func:`~landmask._runtime.schedulers.use_scheduler`) and recorded before
    any tile runs. None when the rules have no statistic.

    Parameters
    ----------
    workflow, plan
        The run's workflow (its classifier's rules) and its region plan (the tiles).
    chunk_size
        The chunk side the tiles are composited in.
    manifest
        The run's manifest: where the values and their fingerprint are recorded.
    settings
        The run's settings, part of the fingerprint.
    force
        Compute the values even when the manifest holds matching ones.
    scheduler
        Where to compute them.

    Returns
    -------
    dict or None
        The values by statistic label (:meth:`RuleSet.label`), NaN for a statistic
        with no valid pixel in the region.
    """
    ruleset = region_rules(workflow)
    if ruleset is None:
        return None
    fp = statistics_fingerprint(settings, plan)
    recorded = None if force else manifest.statistics(fp)
    wanted = {ruleset.label(c) for c in statistic_calls(ruleset)}
    if recorded is not None and set(recorded) == wanted:
        return recorded
    with use_scheduler(scheduler):
        values = compute_region_statistics(workflow, plan, ruleset, chunk_size)
    manifest.record_statistics(fp, values)
    return values
