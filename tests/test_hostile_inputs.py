"""Hostile and broken inputs (issue 14, items 5 and 6): one line, exit status 2, inputs untouched.

Every CLI case goes through the ``cli`` fixture of ``conftest``: status
2, exactly one stderr line holding the file or option named and the problem,
nothing on stdout, no traceback, and every file under tmp_path (inputs, the
output folder) byte-identical afterwards. The parser and workflow validation
are also fuzzed with hypothesis (bounded by max_examples; no deadline: a busy machine is not a bug).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import yaml
from conftest import invoke, snapshot, write_raster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_errors import S2

from landmask.batch.workflow import load_workflow
from landmask.errors import ConfigError, InputError, RuleError
from landmask.io.yamldoc import MAX_DEPTH as YAML_DEPTH
from landmask.io.yamldoc import MAX_NODES, load_yaml
from landmask.spectral.expressions import MAX_DEPTH, MAX_HEIGHT, MAX_LENGTH, Expr, parse


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ rules and YAML

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "rules: [{class: water, when: *i}]\n"
)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(
            "rules:\n  - {class: water, when: '1 > 0'}\n",
            ("rule 1", "'when: 1 > 0'", "reads no band or index"),
            id="constant-rule",
        ),
        pytest.param(
            "rules:\n  - {class: water, when: 'otsu(mndwi) > 0'}\n",
            ("rule 1", "reads no band or index"),
            id="scene-wide-only",
        ),
        pytest.param(
            "rules:\n  - class: water\n    when: '" + "(" * 110 + "ndvi" + ")" * 110 + " > 0'\n",
            ("rule 1", f"nested more than {MAX_DEPTH} levels"),
            id="110-parentheses",
        ),
        pytest.param(
            "rules:\n  - class: water\n    when: '" + "+".join(["ndvi"] * 300) + " > 0'\n",
            ("rule 1", f"more than {MAX_HEIGHT} operations"),
            id="sum-of-300",
        ),
        pytest.param(
            "rules:\n  - class: water\n    when: '" + " + ".join(["ndvi"] * 480) + " > 0'\n",
            ("rule 1", f"at most {MAX_LENGTH}"),
            id="sum-of-480",
        ),
        pytest.param(
            "rules:\n  - class: water\n    when: '" + "not " * 200 + "ndvi > 0'\n",
            ("rule 1", "nested more than"),
            id="200-nots",
        ),
        pytest.param(ALIAS_BOMB, (f"more than {MAX_NODES} values",), id="alias-bomb"),
        pytest.param(
            "rules: " + "[" * 5000 + "]" * 5000 + "\n",
            (f"nested more than {YAML_DEPTH} levels",),
            id="deep-yaml",
        ),
        pytest.param(
            "rules: !!python/object/apply:os.system ['echo pwned']\n",
            ("not valid YAML", "tags are not accepted"),
            id="python-tag",
        ),
    ],
)
def test_hostile_rules_file(cli, tmp_path, s2_file, out_dir, text, needles):
    rules = _rules(tmp_path, text)
    cli(
        ["classify", s2_file, *S2, "--rules", rules, "-o", out_dir / "mask.tif"],
        str(rules),
        *needles,
    )


def test_expression_limits_leave_room_for_real_rules():
    # the built-in indices and rule sets, and expressions just inside the bounds, parse
    parse(" + ".join(["ndvi"] * (MAX_HEIGHT - 1)) + " > 0")
    parse("(" * MAX_DEPTH + "ndvi" + ")" * MAX_DEPTH + " > 0")
    with pytest.raises(RuleError):
        parse("(" * (MAX_DEPTH + 1) + "ndvi" + ")" * (MAX_DEPTH + 1) + " > 0")
    with pytest.raises(RuleError):
        parse(" + ".join(["ndvi"] * MAX_HEIGHT) + " > 0")


def test_alias_bomb_is_refused_without_building_it():
    with pytest.raises(ConfigError, match=r"x\.yaml: YAML expands"):
        load_yaml(ALIAS_BOMB, "x.yaml")
    # anchors and aliases that stay small still work
    assert load_yaml("a: &a [1, 2]\nb: *a\n", "y.yaml") == {"a": [1, 2], "b": [1, 2]}


# -------------------------------------------------------- expression parser fuzzing

_TOKENS = [
    "ndvi", "mndwi", "red", "nir", "x", "otsu", "foo", "__import__", "lambda",
    "0", "1.5", "1e9", ".5", "-", "+", "*", "/", "**", "(", ")", "<", "<=", ">",
    ">=", "==", "!=", "and", "or", "not", ",", ".", "'", "[", "]", "@", "\\", ";",
]  # fmt: skip


def _reference(node: Expr) -> set[str]:
    """Every kind in the tree: parse trees only ever hold these."""
    todo, kinds = [node], set()
    while todo:
        current = todo.pop()
        kinds.add(current.kind)
        todo.extend(current.args)
    return kinds


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_TOKENS), max_size=60).map(" ".join)
    | st.text(max_size=80)
    | st.integers(0, 400).map(lambda n: "(" * n + "ndvi" + ")" * n + " > 0")
    | st.integers(0, 800).map(lambda n: "-" * n + "ndvi > 0")
    | st.integers(0, 600).map(lambda n: " + ".join(["red"] * (n + 1)) + " > 0")
)
def test_token_soup_is_a_parse_or_a_rule_error(text):
    try:
        node = parse(text)
    except RuleError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert _reference(node) <= {"num", "name", "neg", "arith", "cmp", "and", "or", "not", "call"}
    str(node), hash(node), node.names  # must not recurse out
    if not node.calls:
        ones = np.ones(3, np.float32)
        node.evaluate(lambda name: ones)


# ---------------------------------------------------------------------- workflows


def _workflow(tmp_path: Path, doc: dict | str, s2_file: Path | None = None) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


BASE = {
    "name": "t",
    "inputs": "*.tif",
    "sensor": "sentinel2-l2a",
    "classifier": {"rules": "default"},
    "outputs": {"dir": "out"},
}


@pytest.mark.parametrize(
    ("doc", "needles"),
    [
        pytest.param(
            {
                **BASE,
                "vector": {"classes": ["lake"]},
                "outputs": {"dir": "o", "vector": "{stem}.gpkg"},
            },
            ("key 'vector.classes'", "lake", "unknown class"),
            id="vector-class-name",
        ),
        pytest.param(
            {**BASE, "vector": {"classes": [300]}},
            ("key 'vector.classes'", "300", "0-254"),
            id="vector-class-id",
        ),
        pytest.param(
            {**BASE, "outputs": {"dir": "o", "vectr": "{stem}.gpkg"}},
            ("key 'outputs.vectr'", "did you mean 'vector'"),
            id="typo-nested",
        ),
        pytest.param(
            {k if k != "classifier" else "clasifier": v for k, v in BASE.items()},
            ("key 'clasifier'", "did you mean 'classifier'"),
            id="typo-top",
        ),
        pytest.param(
            {**BASE, "classifier": {"rules": "default", "min_confidance": 0.5}},
            ("key 'classifier.min_confidance'", "unknown key"),
            id="typo-classifier",
        ),
        pytest.param(
            {**BASE, "sensor": None, "bands": {"red": 3, "nir": 3}},
            ("key 'bands.", "band 3 is", "already"),
            id="two-names-one-band",
        ),
        pytest.param({**BASE, "scale": float("nan")}, ("key 'scale'", "finite"), id="scale-nan"),
        pytest.param(
            "name: t\nclassifier: {rules: default}\n" + ALIAS_BOMB.replace("rules:", "x:"),
            ("YAML expands",),
            id="alias-bomb",
        ),
    ],
)
def test_bad_workflow_one_line_naming_the_key(cli, tmp_path, s2_file, doc, needles):
    wf = _workflow(tmp_path, doc)
    cli(["run", wf], str(wf), *needles)


def test_deep_stac_json_fails_its_scene_not_the_run(tmp_path, s2_file, capsys, caplog):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    wf = _workflow(tmp_path, {**BASE, "inputs": [s2_file.name, deep.name]})
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out")}
    res = invoke(["run", wf, "--quiet"], capsys, caplog)
    assert res.code == 3, res.err
    summary = json.loads((tmp_path / "out" / "run-summary.json").read_text())
    status = {s["scene"]: (s["status"], s["error"]) for s in summary["scenes"]}
    assert status["s2"][0] == "done"
    assert status["deep"][0] == "failed" and "nested too deeply" in status["deep"][1]
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out")} == before


_KEYS = st.sampled_from(
    ["name", "inputs", "sensor", "bands", "scale", "offset", "resolution", "classifier",
     "quality", "indices", "vector", "outputs", "chunk_size", "scheduler", "parallel_scenes",
     "source", "colour", "vectr"]
)  # fmt: skip
_LEAF = (
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["default", "naip", "{stem}.tif", "*.tif", "lake"])
)  # fmt: skip
_VALUE = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_CLASSIFIER = st.sampled_from(
    [{"rules": "default"}, {"rules": "nope.yaml"}, {"model": "rules:naip"}, {"model": "nonsense"},
     {"model": "sklearn:missing.joblib"}, {"svm": 1}, "default", None]
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(_KEYS, _VALUE, max_size=8),
    _CLASSIFIER,
    st.dictionaries(
        st.sampled_from(["dir", "mask", "vector", "indices", "summary", "probabilities"]), _LEAF
    ),
    st.dictionaries(st.sampled_from(["classes", "connectivity", "min_area", "x"]), _VALUE),
)
def test_workflow_validation_is_a_workflow_or_one_config_error(
    tmp_path, doc, classifier, outputs, vector
):
    doc = {**doc, "classifier": classifier, "outputs": outputs, "vector": vector}
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        load_workflow(path)
    except InputError as exc:
        line = str(exc)
        assert line.startswith(f"{path}:") and "\n" not in line, line


# ------------------------------------------------------------------------ options


def test_scale_nan(cli, s2_file, out_dir):
    cli(["classify", s2_file, *S2, "--scale", "nan", "-o", out_dir / "m.tif"], "--scale", "finite")


def test_one_band_two_names(cli, s2_file, out_dir):
    argv = ["classify", s2_file, "--band", "red=3", "--band", "nir=3", "-o", out_dir / "m.tif"]
    cli(argv, "--band", "red=3", "nir=3")


def test_one_band_two_names_in_python(s2_file):
    from landmask.io.read.scene import open_scene

    with pytest.raises(InputError, match="one band cannot have two names"):
        open_scene(s2_file, bands={"red": 3, "nir": 3})


@pytest.fixture
def mask_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    return write_raster(
        tmp_path / "mask.tif", rng.integers(0, 4, (256, 320), dtype=np.uint8), nodata=255
    )


def test_classes_300(cli, mask_file, out_dir):
    cli(
        ["vectorize", mask_file, "--classes", "300", "-o", out_dir / "v.gpkg"],
        "--classes 300",
        "0-254",
    )


def test_preview_max_size_0(cli, mask_file, out_dir):
    cli(["preview", mask_file, "--max-size", "0", "-o", out_dir / "p.png"], "--max-size")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--mode", "blur", "--sigma", "1e6"], ("--sigma", "beyond the image")),
        (["--mode", "blur", "--sigma", "inf"], ("--sigma", "finite")),
        (["--nodata", "70000"], ("--nodata 70000", "uint16")),
        (["--nodata", "1.5"], ("--nodata 1.5", "whole numbers")),
    ],
)
def test_apply_options(cli, tmp_path, out_dir, extra, needles):
    image = write_raster(tmp_path / "img.tif", np.full((2, 256, 320), 7, dtype=np.uint16))
    mask = write_raster(tmp_path / "mask.tif", np.ones((256, 320), np.uint8), nodata=255)
    cli(["apply", image, mask, "--keep", "forest", *extra, "-o", out_dir / "a.tif"], *needles)


def test_stac_scale_not_a_number(cli, tmp_path, out_dir):
    write_raster(tmp_path / "red.tif", np.full((64, 64), 900, np.uint16))
    write_raster(tmp_path / "nir.tif", np.full((64, 64), 3000, np.uint16))
    assets = {
        name: {
            "href": f"{name}.tif",
            "roles": ["data"],
            "eo:bands": [{"common_name": name}],
            "raster:bands": [{"scale": "abc" if name == "nir" else 1e-4, "offset": 0}],
        }
        for name in ("red", "nir")
    }
    item = tmp_path / "item.json"
    item.write_text(
        json.dumps(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": "it",
                "geometry": None,
                "properties": {"datetime": "2024-06-01T10:00:31Z"},
                "links": [],
                "assets": assets,
            }
        )
    )
    cli(
        ["indices", item, "--index", "ndvi", "-o", out_dir / "i.tif"],
        str(item),
        "asset 'nir'",
        "raster:scale 'abc' is not a finite number",
    )


def test_deep_stac_json_on_the_command_line(cli, tmp_path, out_dir):
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    cli(["classify", deep, "-o", out_dir / "m.tif"], str(deep), "nested too deeply")


def test_empty_training_labels(cli, tmp_path, s2_file, out_dir):
    import geopandas as gpd

    labels = tmp_path / "labels.gpkg"
    gpd.GeoDataFrame({"landuse": []}, geometry=[], crs=32633).to_file(labels)
    argv = ["train", s2_file, *S2, "--labels", labels, "--label-column", "landuse"]
    cli([*argv, "-o", out_dir / "m.joblib"], str(labels), "no labels")


# ------------------------------------------------------------- truncated rasters


def _truncate(src: Path, dst: Path) -> Path:
    """A tiled DEFLATE copy of ``src`` cut to 60 %: it opens, its last tiles fail to read."""
    rasterio.shutil.copy(
        src, dst, driver="GTiff", TILED="YES", BLOCKXSIZE=64, BLOCKYSIZE=64, COMPRESS="DEFLATE"
    )
    with open(dst, "r+b") as f:
        f.truncate(int(dst.stat().st_size * 0.6))
    with rasterio.open(dst) as ds:
        assert ds.count >= 1
    src.unlink()
    return dst


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    mask = write_raster(
        tmp_path / "m.tif", rng.integers(0, 4, (256, 320), dtype=np.uint8), nodata=255
    )
    good_mask = write_raster(
        tmp_path / "good.tif", rng.integers(0, 4, (256, 320), dtype=np.uint8), nodata=255
    )
    image = write_raster(tmp_path / "i.tif", rng.integers(1, 9000, (3, 256, 320), dtype=np.uint16))
    return {
        "mask": _truncate(mask, tmp_path / "broken_mask.tif"),
        "image": _truncate(image, tmp_path / "broken_image.tif"),
        "good": good_mask,
    }


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["vectorize", "{mask}", "-o", "{out}/v.gpkg"], "mask"),
        (["export", "{mask}", "-o", "{out}/e.tif"], "mask"),
        (["apply", "{image}", "{good}", "--keep", "forest", "-o", "{out}/a.tif"], "image"),
        (["apply", "{image}", "{mask}", "--keep", "forest", "-o", "{out}/a.tif"], "mask"),
        (["evaluate", "{mask}", "{good}"], "mask"),
        (["evaluate", "{good}", "{mask}"], "mask"),
        (["zonal", "{mask}", "{zones}", "-o", "{out}/z.csv"], "mask"),
    ],
    ids=[
        "vectorize",
        "export",
        "apply-image",
        "apply-mask",
        "evaluate-pred",
        "evaluate-truth",
        "zonal",
    ],
)
def test_truncated_raster_named_with_its_window(cli, tmp_path, out_dir, broken, argv, culprit):
    zones = tmp_path / "zones.geojson"
    zones.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "z"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[500000, 5400000], [503200, 5400000], [503200, 5397440],
                                 [500000, 5397440], [500000, 5400000]]
                            ],
                        },
                    }
                ],
            }
        )
    )  # fmt: skip
    names = {**{k: str(v) for k, v in broken.items()}, "out": str(out_dir), "zones": str(zones)}
    err = cli(
        [a.format(**names) for a in argv],
        str(broken[culprit]),
        "cannot read rows",
        pattern=r"cols \d+-\d+",
    )
    assert "previous exception" not in err


# --------------------------------------------------------------- read-only folders


def test_read_only_output_folder(cli, tmp_path, read_only_folder):
    """A folder this process cannot write to (a read-only tmpfs for root, mode 0555 for an
    ordinary user): one line naming it, exit 2, nothing written, whoever runs the suite."""
    mask = write_raster(tmp_path / "mask.tif", np.ones((64, 64), np.uint8), nodata=255)
    ro = read_only_folder
    for argv in (
        ["export", mask, "-o", ro / "e.tif"],
        ["vectorize", mask, "-o", ro / "v.gpkg"],
    ):
        cli(argv, f"output folder {ro} is not writable")
    assert os.listdir(ro) == []


# ----------------------------------------------------------------- model code (trust)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("sys:exit", "called exit(None)"),
        ("builtins:quit", "called exit"),
        ("code:interact", "reads standard input"),
        ("builtins:input", "reads standard input"),
        ("exits_on_import:factory", "importing exits_on_import called exit(3)"),
        ("reads_on_import:factory", "reads standard input"),
        ("raises_base:factory", "the model factory failed (GeneratorExit"),
    ],
)
def test_model_code_that_exits_or_reads_stdin(
    cli, tmp_path, s2_file, out_dir, monkeypatch, spec, words
):
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    (modules / "reads_on_import.py").write_text("import sys\nsys.stdin.read()\n")
    (modules / "raises_base.py").write_text("def factory():\n    raise GeneratorExit('no')\n")
    monkeypatch.syspath_prepend(str(modules))
    cli(["classify", s2_file, *S2, "--model", spec, "-o", out_dir / "m.tif"], spec, words)


def test_interactive_factory_does_not_read_the_real_stdin(tmp_path, s2_file):
    """In a real process with commands waiting on stdin, ``code:interact`` runs none of them."""
    pwned = tmp_path / "pwned"
    done = subprocess.run(
        [sys.executable, "-c", "from landmask.cli import main; main()", "classify", str(s2_file),
         *S2, "--model", "code:interact", "-o", str(tmp_path / "m.tif")],
        input=f"open({str(pwned)!r}, 'w').close()\n",
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "reads standard input" in lines[0], lines
    assert done.stdout == ""
    assert not pwned.exists() and not (tmp_path / "m.tif").exists()


def test_a_key_with_a_newline_is_reported_on_one_line(tmp_path):
    # found by the fuzzing above: YAML keys may hold any character
    path = tmp_path / "nl.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "inputs": "a.tif", "bad\nkey": 1}))
    with pytest.raises(InputError) as info:
        load_workflow(path)
    assert "\n" not in str(info.value) and "bad\\nkey" in str(info.value)
