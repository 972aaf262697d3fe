"""Options shared by landmask's subcommands, as click decorators (rasterio ``rio`` style)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from landmask.classes import SCHEMES

F = TypeVar("F", bound=Callable[..., Any])


def _parse_bands(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> dict[str, int] | None:
    if not value:
        return None
    out: dict[str, int] = {}
    for item in value:
        name, sep, number = item.partition("=")
        if not sep or not number.strip().isdigit() or not name.strip():
            raise click.BadParameter(f"{item!r}: expected NAME=N, e.g. red=3", param=param)
        key, n = name.strip().lower(), int(number)
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice ({key}={out[key]}, {key}={n})")
        twin = next((k for k, v in out.items() if v == n), None)
        if twin is not None:
            raise click.BadParameter(f"band {n} is given two names ({twin}={n}, {key}={n})")
        out[key] = n
    return out


def _parse_per_band(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> float | dict[str, float] | None:
    """``--scale F`` (every band) and ``--scale NAME=F`` (one band), repeatable.

    One bare number gives a float; any ``NAME=F`` gives a mapping, the bare
    number (if any) under ``"*"`` (every band not named).
    """
    if not value:
        return None
    out: dict[str, float] = {}
    for item in value:
        name, sep, text = item.rpartition("=")
        key = name.strip().lower() if sep else "*"
        shown = f"{key}={text.strip()}" if sep else text.strip()
        if sep and not name.strip():
            raise click.BadParameter(f"{item!r}: expected F or NAME=F, e.g. nir=0.0001")
        try:
            number = float(text)
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: expected F or NAME=F, e.g. 0.0001 or nir=0.0001", param=param
            ) from None
        if not math.isfinite(number):
            raise click.BadParameter(f"{shown}: not a finite number", param=param)
        if key in out:
            what = "a number for every band" if key == "*" else f"{key!r}"
            raise click.BadParameter(f"{what} is given twice ({shown})", param=param)
        out[key] = number
    return out["*"] if list(out) == ["*"] else out


def finite_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A click callback refusing NaN and infinities (``--scale nan``)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value}: not a finite number", param=param)
    return value


def scene_options(f: F) -> F:
    """The scene options: ``--sensor``, ``--band``, ``--scale``, ``--offset``, ...

    Also ``--allow-ungeoreferenced`` and ``--resolution``.

    The command receives them as one ``scene: SceneOptions`` argument.
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from landmask.io.read.scene import SceneOptions  # reading scenes: rasterio, xarray

        names = ("sensor", "bands", "scale", "offset", "allow_ungeoreferenced", "resolution")
        kwargs["scene"] = SceneOptions(**{n: kwargs.pop(n) for n in names})
        return f(*args, **kwargs)

    decorators = [
        click.option(
            "--sensor",
            metavar="NAME",
            help="Sensor preset naming bands and giving scale/offset: sentinel2-l2a (offset "
            "by processing baseline), landsat-c2-l2 (Landsat 4-9, band table by product id), "
            "naip; Level-1 (top-of-atmosphere reflectance from the product's metadata, "
            "chosen by the product id even without --sensor): landsat-c2-l1 (MTL gains and "
            "sun elevation), sentinel2-l1c.",
        ),
        click.option(
            "--band",
            "bands",
            multiple=True,
            metavar="NAME=N",
            callback=_parse_bands,
            help="Name input band N (numbered from 1 across all inputs) with a STAC common "
            "name, e.g. --band red=3 --band nir=4. Repeatable; overrides the sensor's names.",
        ),
        click.option(
            "--scale",
            multiple=True,
            metavar="F|NAME=F",
            callback=_parse_per_band,
            help="reflectance = DN * scale + offset. A bare number is every band's; NAME=F "
            "(e.g. nir=0.0001) one band's, repeatable; bands not named keep the preset's, "
            "the STAC item's or the file's.",
        ),
        click.option(
            "--offset",
            multiple=True,
            metavar="F|NAME=F",
            callback=_parse_per_band,
            help="See --scale (e.g. --offset -0.1 or --offset red=-0.1).",
        ),
        click.option(
            "--allow-ungeoreferenced",
            is_flag=True,
            help="Accept rasters without CRS and transform (pixel coordinates).",
        ),
        click.option(
            "--resolution",
            type=float,
            callback=finite_float,
            metavar="RES",
            help="Pixel size of the output grid in CRS units (e.g. 20). Default: the finest "
            "input's; coarser bands (Sentinel-2 20 m) are resampled onto it, bilinear for "
            "reflectance, nearest for SCL/QA_PIXEL.",
        ),
    ]
    command: Any = wrapper
    for d in reversed(decorators):
        command = d(command)
    return cast(F, command)


def processing_options(f: F) -> F:
    """``--chunk-size`` and ``--scheduler`` (default ``threads``)."""
    return _processing_options(f, "threads")


def polygonizing_options(f: F) -> F:
    """``--chunk-size`` and ``--scheduler`` for commands whose work holds the GIL.

    Polygonizing is Python and GEOS work that threads cannot share, so the
    default is ``processes``: a pool of worker processes, one per CPU.
    """
    return _processing_options(f, "processes")


def _processing_options(f: F, scheduler: str) -> F:
    f = click.option(
        "--scheduler",
        default=scheduler,
        show_default=True,
        metavar="SPEC",
        help="threads, processes, synchronous, local:N (a LocalCluster of N workers) "
        "or tcp://host:port (an existing dask.distributed scheduler).",
    )(f)
    f = click.option(
        "--chunk-size",
        type=int,
        default=None,
        metavar="N",
        help="Chunk side in pixels, rounded to whole blocks of the input "
        "[default: 1024 for scenes, 2048 for masks].",
    )(f)
    return f


def output_options(f: F) -> F:
    """``-o/--output`` and ``--overwrite``."""
    f = click.option("--overwrite", is_flag=True, help="Replace an existing output.")(f)
    f = click.option(
        "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file."
    )(f)
    return f


def stac_option(f: F) -> F:
    """``--no-stac``: given to the command as ``stac: bool`` (True by default)."""
    return click.option(
        "--no-stac",
        "stac",
        is_flag=True,
        flag_value=False,
        default=True,
        help="Write no STAC item beside the output (mask.tif.stac.json next to mask.tif).",
    )(f)


def _parse_scheme(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from landmask.classes import get_scheme
    from landmask.errors import ConfigError

    try:
        return get_scheme(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def scheme_option(*names: str, help: str) -> Callable[[F], F]:
    """A class-scheme option (default ``--scheme``), given to the command as a ClassScheme."""
    return click.option(
        *(names or ("--scheme",)),
        default=None,
        metavar="NAME",
        callback=_parse_scheme,
        help=help + f" Schemes: {', '.join(SCHEMES)}.",
    )


def common_options(f: F) -> F:
    """``--quiet`` and ``--debug``."""
    f = click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")(f)
    f = click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")(f)
    return f


def vector_options(f: F) -> F:
    """``--classes``, ``--connectivity``, ``--min-area``, ``--simplify`` (vectorize, classify)."""
    f = click.option(
        "--simplify",
        type=float,
        metavar="T",
        help="Simplify with tolerance T (CRS units) keeping shared edges: no gaps, no overlaps.",
    )(f)
    f = click.option(
        "--min-area",
        type=float,
        metavar="M2",
        help="Minimum mapping unit: merge regions smaller than M2 m² into the class that "
        "borders them most (see README).",
    )(f)
    f = click.option(
        "--connectivity",
        type=click.Choice(["4", "8"]),
        default="4",
        show_default=True,
        help="Pixels of a region touch by edges (4) or also by corners (8).",
    )(f)
    f = click.option(
        "--classes",
        metavar="NAME,...",
        help="Classes to vectorize (names or ids, comma-separated); default every class but "
        "other (0 in landcover; every class of a scheme without other). Nodata never "
        "becomes a polygon.",
    )(f)
    return f


def split_classes(classes: str | None) -> list[str] | None:
    """``"forest,water"`` -> ``["forest", "water"]``; None for the default classes.

    ``--classes ""`` or ``--classes ,,`` name no class: refused (not taken as the default).
    """
    if classes is None:
        return None
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if not names:
        raise click.BadParameter(f"{classes!r} names no class", param_hint="--classes")
    return names
