"""Draw each real scene's mask beside its false-colour composite (docs/gallery/*.png).

The masks are those of ``scripts/real_scenes.py``: each scene opened with only
the options a user types and classified by the built-in rule set landmask
picks. Run from the repository root::

    python scripts/gallery.py                  # writes docs/gallery/<scene>.png
    python scripts/gallery.py -o /tmp/gallery  # somewhere else

The README's "Gallery" section shows these files.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from landmask.classes import get_scheme

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"


def stretch(band: np.ndarray) -> np.ndarray:
    """A band scaled to 0..1 between its 2nd and 98th percentiles (NaN kept)."""
    lo, hi = np.nanpercentile(band, [2, 98])
    return np.clip((band - lo) / (hi - lo if hi > lo else 1.0), 0, 1)


def false_colour(data) -> np.ndarray:
    """NIR, red, green as red, green, blue: vegetation red, water dark, towns cyan-grey."""
    bands = [np.asarray(data.sel(band=b).values, dtype="float64") for b in ("nir", "red", "green")]
    rgb = np.dstack([stretch(b) for b in bands])
    return np.nan_to_num(rgb, nan=1.0)


def draw(scene, path: Path) -> Path:
    """One PNG: the false-colour composite, the mask, and the class shares."""
    real = importlib.import_module("real_scenes")
    data = real.open_real(scene)
    mask, rules = real.classify_real(scene)
    classes = [c for c in get_scheme("landcover") if c.id in (0, 1, 2, 3)]
    colours = [c.color for c in classes]
    shares = real.shares(mask)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.3), dpi=72)
    axes[0].imshow(false_colour(data), interpolation="nearest")
    axes[0].set_title("false colour (NIR, red, green)", fontsize=9)
    shown = np.ma.masked_equal(mask, 255)
    axes[1].imshow(
        shown, cmap=ListedColormap(colours), vmin=-0.5, vmax=3.5, interpolation="nearest"
    )
    axes[1].set_title(f"mask, rules {rules}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=c.color, label=f"{c.name} {shares[c.name]:.0%}") for c in classes]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    held = " (held out)" if scene.held_out else ""
    fig.suptitle(f"{scene.name}{held}: {scene.title}", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT, help="folder of the PNGs")
    args = parser.parse_args()
    for scene in importlib.import_module("real_scenes").SCENES.values():
        path = draw(scene, args.out / f"{scene.name}.png")
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
