"""When a scene was acquired: one reading of provider names and of STAC times, for every user.

The provider's names say the product and its time in one match
(:mod:`landmask.io.sensors.provider`); ISO 8601 text and a STAC item's times are read
in one place (:mod:`landmask.io.sensors.times`) by the provider's STAC reading, the
items beside outputs and the dates of a composite alike.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pystac
import pytest
from conftest import write_raster

import landmask
from landmask.io.sensors.provider import product_of_file, product_of_item
from landmask.io.sensors.times import iso_utc, item_times, parse_utc
from landmask.io.stac.items import Lineage, acquisition_times
from landmask.temporal.dates import gather_dates

SAFE = "S2A_MSIL2A_20220301T101841_N0400_R065_T33UUP_20220301T140033.SAFE"


@pytest.mark.parametrize(
    ("path", "acquired", "platform"),
    [
        ("LC09_L2SP_190026_20240601_20240603_02_T1_SR_B4.TIF", "2024-06-01T00:00:00Z", "landsat-9"),
        ("LE07_L1TP_044034_20210105_20210131_02_T1/B3.TIF", "2021-01-05T00:00:00Z", "landsat-7"),
        (
            f"{SAFE}/GRANULE/L2A/IMG_DATA/R10m/T33UUP_20220301T101839_B04_10m.jp2",
            "2022-03-01T10:18:39Z",
            "sentinel-2a",
        ),
        (f"{SAFE}/B04.tif", "2022-03-01T10:18:41Z", "sentinel-2a"),
        ("S2B_33UUP_20220714_0_L2A/B04.tif", "2022-07-14T00:00:00Z", "sentinel-2b"),
        ("T33UUP_20220301T101841_B04_10m.jp2", "2022-03-01T10:18:41Z", ""),
    ],
)
def test_a_provider_name_gives_the_product_and_its_time_together(path, acquired, platform):
    product = product_of_file(f"/nowhere/{path}")
    assert product is not None
    assert product.acquired == acquired and product.platform == platform
    assert product.sensing_date == acquired[:10].replace("-", "")


def test_landsat_files_form_a_date_of_a_composite(tmp_path):
    """Landsat product names gave a time but no day before; the composite refused them."""
    pid = "LC09_L2SP_190026_20240601_20240603_02_T1"
    other = "LC08_L2SP_190026_20240710_20240712_02_T1"
    files = []
    for name in (pid, other):
        folder = tmp_path / name
        folder.mkdir()
        files.append(write_raster(folder / f"{name}_SR_B4.TIF", np.ones((4, 4), np.uint16)))
    dates, outside = gather_dates([str(f) for f in files])
    assert outside == []
    assert [(d.day.isoformat(), d.platform) for d in dates] == [
        ("2024-06-01", "landsat-9"),
        ("2024-07-10", "landsat-8"),
    ]


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"datetime": "2022-03-01T10:18:41.024Z"}, ["2022-03-01T10:18:41.024000Z"]),
        ({"datetime": "2022-03-01T12:18:41+02:00"}, ["2022-03-01T10:18:41Z"]),
        ({"datetime": "2022-03-01T10:18:41"}, ["2022-03-01T10:18:41Z"]),  # no zone: UTC
        (
            {"datetime": None, "start_datetime": "2024-05-01", "end_datetime": "2024-05-31Z"},
            ["2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z"],
        ),
        ({"datetime": "not a time"}, []),
    ],
)
def test_every_reader_of_an_items_times_agrees(tmp_path, properties, expected):
    assert [iso_utc(t) for t in item_times(properties)] == expected
    doc = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "scene",
        "geometry": None,
        "properties": {"platform": "sentinel-2a", "instruments": ["msi"], **properties},
        "links": [],
        "assets": {},
    }
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(doc))
    # the items beside outputs
    times = acquisition_times(Lineage(derived_from=(str(path),)))
    assert [iso_utc(t) for t in times] == expected
    # the provider's reading of an input item (whole seconds)
    product = product_of_item(SimpleNamespace(id="scene", properties=doc["properties"]))
    assert product is not None
    first = parse_utc(expected[0]) if expected else None
    assert product.acquired == (iso_utc(first.replace(microsecond=0)) if first else None)
    # the dates of a composite
    if expected:
        (date,), _ = gather_dates([pystac.Item.from_dict(doc)])
        assert date.when == first


def test_times_are_utc_and_bad_text_is_none():
    assert parse_utc("2024-06-01T10:10:31+01:00") == dt.datetime(
        2024, 6, 1, 9, 10, 31, tzinfo=dt.UTC
    )
    assert parse_utc("") is None and parse_utc(None) is None and parse_utc("June") is None
    assert iso_utc(dt.datetime(2024, 6, 1, 9, 10, 31)) == "2024-06-01T09:10:31Z"


def test_iso_times_are_parsed_in_one_place():
    """No module but io/sensors/times.py turns ISO 8601 text with a Z into a time."""
    root = Path(landmask.__file__).parent
    parsers = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(
            r"fromisoformat\([^)]*\)?\.?replace\(\"Z\"|replace\(\"Z\", \"\+00:00\"\)", p.read_text()
        )
    ]
    assert parsers == ["io/sensors/times.py"]
