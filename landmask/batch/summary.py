"""What a run reports: one :class:`SceneResult` per scene, gathered in a :class:`RunSummary`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from landmask.io.statistic_tags import describe_statistic

__all__ = ["RunSummary", "SceneResult"]


@dataclass
class SceneResult:
    """What happened to one scene: ``done``, ``skipped`` (finished before) or ``failed``."""

    scene: str
    status: str
    seconds: float = 0.0
    pixels: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    #: what the scene's values were and why (:mod:`landmask.io.read.radiometry`)
    radiometry: str | None = None
    radiometry_basis: str | None = None
    #: the scene-wide statistics its rules were bound to (None: no valid pixel, all nodata)
    statistics: dict[str, float | None] = field(default_factory=dict)


@dataclass
class RunSummary:
    """The outcome of a run, one :class:`SceneResult` per scene in input order."""

    workflow: str
    scheduler: str
    scenes: list[SceneResult]
    seconds: float
    #: a region run's figures: tiles, dates, scenes left out (outside the period or region)
    region: dict[str, int] | None = None
    #: a region run's region-wide statistics by label, bound into every tile's rules (a
    #: value None: no valid pixel in the region, every tile nodata; the field None: the
    #: rules have no statistic, or not a region run)
    statistics: dict[str, float | None] | None = None

    @property
    def failed(self) -> list[SceneResult]:
        """The scenes that failed."""
        return [s for s in self.scenes if s.status == "failed"]

    def counts(self) -> dict[str, int]:
        """Number of scenes per status."""
        out = {"done": 0, "skipped": 0, "failed": 0}
        for s in self.scenes:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: workflow, scheduler, seconds, per-status counts and every scene."""
        return {
            "workflow": self.workflow,
            "scheduler": self.scheduler,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "scenes": [asdict(s) for s in self.scenes],
            **({"region": self.region} if self.region is not None else {}),
            **({"statistics": self.statistics} if self.statistics is not None else {}),
        }

    def table(self) -> str:
        """A plain-text table: scene, status, time and pixels per class; errors below."""
        classes: list[str] = []
        for s in self.scenes:
            classes += [c for c in s.pixels if c not in classes]
        width = max([5, *(len(s.scene) for s in self.scenes)])
        head = f"{'scene':<{width}} {'status':<7} {'time s':>7}"
        lines = [head + "".join(f" {c:>12}" for c in classes)]
        for s in self.scenes:
            row = f"{s.scene:<{width}} {s.status:<7} {s.seconds:>7.1f}"
            row += "".join(f" {s.pixels.get(c, 0):>12,}" for c in classes)
            lines.append(row)
        for s in self.scenes:
            if s.radiometry:
                lines.append(f"{s.scene}: radiometry {s.radiometry} ({s.radiometry_basis})")
            for name, value in s.statistics.items():
                lines.append(f"{s.scene}: {describe_statistic(name, value)}")
        for s in self.failed:
            lines.append(f"{s.scene}: {s.error}")
        c = self.counts()
        if self.region is not None:
            r = self.region
            lines.append(
                f"region: {r['tiles']} tiles, {r['dates']} dates; scenes skipped: "
                f"{r['scenes_outside_period']} outside the period, "
                f"{r['scenes_outside_region']} outside the region"
            )
        for name, value in (self.statistics or {}).items():
            lines.append(f"region: {describe_statistic(name, value, over='region')}")
        lines.append(
            f"{len(self.scenes)} scenes: {c['done']} done, {c['skipped']} skipped, "
            f"{c['failed']} failed in {self.seconds:.1f} s"
        )
        return "\n".join(lines)
