"""Threshold rule sets: ordered, first match wins, loaded from YAML.

A rule set file looks like::

    name: default
    scheme: landcover
    description: ...
    rules:
      - class: water
        when: mndwi > 0.2 and ndvi < 0.1
        reference: Xu (2006) ...
      - class: forest
        when: ndvi > 0.7

``when`` is an expression of :mod:`landmask.spectral.expressions` over band common
names and index names. A pixel takes the class of the first rule it matches,
``0`` (other) if none, and ``255`` (nodata) if any name the rule set reads is
NaN there (missing input or zero denominator).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from landmask.bands import COMMON_NAMES, is_composite_band
from landmask.classes import NODATA, ClassScheme, get_scheme
from landmask.errors import ConfigError, LandmaskError, RuleError
from landmask.io.inputs import read_text
from landmask.io.yamldoc import load_yaml
from landmask.spectral.expressions import FUNCTIONS, MAX_LENGTH, Expr, parse
from landmask.spectral.indices import INDICES, BlockLookup

__all__ = [
    "BUILTIN_RULESETS",
    "TOA_REASON",
    "Rule",
    "RuleSet",
    "RulesChoice",
    "classify_block",
    "default_rules",
    "default_rules_for",
    "load_rules",
]

#: Built-in rule sets shipped in ``landmask/spectral/rulesets``.
BUILTIN_RULESETS = ("default", "naip", "adaptive", "adaptive-rgbn", "annual")

_RULESET_KEYS = {"name", "scheme", "description", "default", "define", "rules", "references"}
_DEFINED_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_KEYS = {"class", "when", "reference", "note"}


@dataclass(frozen=True)
class Rule:
    """One rule: pixels where ``expr`` holds take ``class_id``."""

    class_name: str
    class_id: int
    text: str
    expr: Expr
    reference: str | None = None


@dataclass(frozen=True)
class RuleSet:
    """An ordered rule set over a class scheme."""

    name: str
    source: str
    rules: tuple[Rule, ...]
    scheme: ClassScheme
    default_id: int = 0
    #: Scene-wide statistics bound into the rules, e.g. ``(("otsu(mndwi)", 0.12),)``;
    #: NaN for one with no valid pixel
    #: (see :func:`landmask.spectral.thresholds.resolve_thresholds`).
    thresholds: tuple[tuple[str, float], ...] = ()
    #: The ``define:`` names and the expressions they stand for, for :meth:`label`.
    labels: tuple[tuple[Expr, str], ...] = ()

    def label(self, expr: Expr) -> str:
        """``expr`` written out with the rule set's defined names folded back in."""
        return expr.text(dict(self.labels))

    @cached_property
    def names(self) -> frozenset[str]:
        """Every band and index name the rule set reads."""
        return frozenset().union(*(r.expr.names for r in self.rules))

    @cached_property
    def quantities(self) -> tuple[Expr, ...]:
        """Every distinct numeric quantity the rules compare, in rule order."""
        return tuple(dict.fromkeys(q for r in self.rules for q in r.expr.quantities))

    @property
    def void(self) -> bool:
        """True when a scene-wide statistic had no valid pixel (NaN): every pixel is nodata.

        A statistic over part of the scene (``otsu(x where c)``) whose part is empty
        is NaN too but voids nothing: comparisons with it match no pixel.
        """
        return any(math.isnan(value) for name, value in self.thresholds if " where " not in name)

    @cached_property
    def reach(self) -> int:
        """Pixels of context the rules need around a pixel (their largest focal radius)."""
        return max((r.expr.reach for r in self.rules), default=0)

    @cached_property
    def bands(self) -> list[str]:
        """Every band the rules read (indices by their bands), sorted."""
        return _bands_of(self.names)

    @cached_property
    def checks(self) -> tuple[Expr, ...]:
        """What :func:`classify_block` holds finite: a pixel where one is not is nodata.

        The compared quantities: NaN propagates through arithmetic and focal
        functions, so they cover the bands inside them; only a power can turn NaN
        into a number, so with one the bands are checked too.
        """
        checks = list(self.quantities)
        if any("**" in q.ops or (q.kind != "name" and _has_power(q)) for q in checks):
            checks += [Expr("name", value=b) for b in self.bands]
        return tuple(checks)

    @cached_property
    def finite_checks(self) -> tuple[Expr, ...]:
        """The :attr:`checks` :func:`classify_block` tests: those no other one implies.

        A neighbourhood mean, deviation, minimum or maximum is not finite exactly
        where its argument is not (NaN at a missing centre; else a statistic of
        finite values, which stays finite), so its check is left out when the
        argument is known finite wherever the kept checks pass: it is one of them
        or inside one where a value that is not finite would make it so
        (:func:`_finite_within`). The mask is the same; the focal values are then
        read only by the rules.
        """
        kept = [c for c in self.checks if not _centre_finite(c)]
        known = set().union(*(_finite_within(c) for c in kept))
        for check in self.checks:
            if _centre_finite(check) and not _implied(check, known):
                kept.append(check)
                known |= _finite_within(check)
        return tuple(c for c in self.checks if c in kept)

    @cached_property
    def guarded_bands(self) -> frozenset[str]:
        """The bands whose missing value (NaN, +-inf) makes :func:`classify_block` give nodata.

        Those inside a checked quantity where a value that is not finite
        always makes it not finite: not in a denominator (``x / inf`` is 0) nor
        under a power (``nan ** 0`` is 1).
        """
        return frozenset().union(*(_propagating(c) for c in self.checks))

    @cached_property
    def focal_calls(self) -> tuple[Expr, ...]:
        """Every distinct neighbourhood function call of the rules, in rule order."""
        return tuple(dict.fromkeys(c for r in self.rules for c in r.expr.focal_calls))


def _fail(source: str, where: str, what: str) -> RuleError:
    return RuleError(f"{source}: {where}: {what}")


def _definitions(source: str, data: Any) -> dict[str, str]:
    """The ``define:`` mapping, each name's text expanded in terms of bands and indices.

    A definition names a numeric expression (``ndvi_s: (s_nir - s_red) / (s_nir + s_red)``)
    that later definitions and rules use by name; each use stands for the expression in
    parentheses. Names may not shadow a band, an index, a function or a keyword.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RuleError(f"{source}: 'define' must be a mapping of names to expressions")
    expanded: dict[str, str] = {}
    for name, text in data.items():
        where = f"define {name!r}"
        if not isinstance(name, str) or not _DEFINED_NAME.match(name):
            raise _fail(source, where, "a name is lower-case letters, digits and '_'")
        if name in INDICES or name in COMMON_NAMES or name in FUNCTIONS:
            raise _fail(source, where, "the name is a band, an index or a function already")
        if name in ("and", "or", "not", "where"):
            raise _fail(source, where, "the name is a keyword")
        body = _expand(str(text), expanded)
        try:
            expr = parse(body)
        except LandmaskError as exc:
            raise _fail(source, where, str(exc)) from None
        if expr.boolean:
            raise _fail(source, where, "a definition is a number, not a comparison")
        expanded[name] = body
    return expanded


def _expand(text: str, definitions: Mapping[str, str]) -> str:
    """``text`` with every defined name replaced by its expression in parentheses.

    The length limit of :func:`~landmask.spectral.expressions.parse` holds for the text
    written out (it bounds the parser's work); the error says so when only the written-out
    text is too long, since that is not the text the user wrote.
    """
    if not definitions:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, definitions)) + r")\b")
    out = pattern.sub(lambda m: f"({definitions[m.group(1)]})", text)
    if len(out) > MAX_LENGTH >= len(text):
        raise RuleError(
            f"expression is {len(out)} characters long with its defined names written out "
            f"({len(text)} as written); at most {MAX_LENGTH} are accepted: define less, "
            "or use each long definition fewer times"
        )
    return out


def _parse_rule(
    source: str,
    k: int,
    item: Any,
    scheme: ClassScheme,
    definitions: Mapping[str, str] | None = None,
) -> Rule:
    if not isinstance(item, Mapping):
        raise _fail(source, f"rule {k}", "must be a mapping with 'class' and 'when'")
    label = f"rule {k} ({item.get('class', '?')})"
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise _fail(source, label, f"unknown key {sorted(unknown)[0]!r}")
    for key in ("class", "when"):
        if key not in item:
            raise _fail(source, label, f"missing key {key!r}")
    try:
        class_id = _scheme_class(scheme, item["class"], "class")
        expr = parse(_expand(str(item["when"]), definitions or {}))
    except LandmaskError as exc:
        raise _fail(source, label, str(exc)) from None
    if not expr.boolean:
        raise _fail(source, label, f"'when: {item['when']}' is not a comparison")
    if not expr.pixel_names:
        raise _fail(
            source,
            label,
            f"'when: {item['when']}' reads no band or index, so it is the same for every "
            "pixel: a rule must compare a band or index",
        )
    for name in sorted(expr.names):
        if name not in INDICES and name not in COMMON_NAMES and not is_composite_band(name):
            raise _fail(
                source,
                label,
                f"unknown name {name!r} (indices: {', '.join(INDICES)}; a band common name; "
                "or a composite's band such as ndvi_p10, nir_median, clear_count)",
            )
    ref = item.get("reference")
    return Rule(
        scheme.name_of(class_id), class_id, str(item["when"]), expr, str(ref) if ref else None
    )


def _scheme_class(scheme: ClassScheme, item: Any, key: str) -> int:
    """The id of a rule's class (a name or id of ``scheme``, :meth:`ClassScheme.id`).

    Unlike a ``--classes`` list, a rule may write only the scheme's classes.
    """
    class_id = scheme.id(item, option=key)
    if class_id not in scheme.names:
        known = ", ".join(scheme.names.values())
        raise ConfigError(
            f"{key}: {item}: unknown class in scheme {scheme.name!r} (known: {known})"
        )
    return class_id


def parse_rules(data: Any, source: str) -> RuleSet:
    """Build a :class:`RuleSet` from parsed YAML; ``source`` names it in errors."""
    if not isinstance(data, Mapping):
        raise RuleError(f"{source}: a rule set must be a mapping with a 'rules' list")
    unknown = set(data) - _RULESET_KEYS
    if unknown:
        raise RuleError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    try:
        scheme = get_scheme(str(data.get("scheme", "landcover")))
        if "default" not in data and "other" not in scheme.names.values():
            raise ConfigError(
                f"scheme {scheme.name!r} has no class 'other': name the class of pixels "
                "that match no rule with 'default: CLASS'"
            )
        default_id = _scheme_class(scheme, data.get("default", "other"), "default")
    except ConfigError as exc:
        raise RuleError(f"{source}: {exc}") from None
    items = data.get("rules")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise RuleError(f"{source}: 'rules' must be a non-empty list")
    definitions = _definitions(source, data.get("define"))
    rules = tuple(
        _parse_rule(source, k, item, scheme, definitions) for k, item in enumerate(items, start=1)
    )
    labels = tuple((parse(body), name) for name, body in definitions.items())
    name = str(data.get("name", Path(source).stem))
    return RuleSet(name, source, rules, scheme, default_id, labels=labels)


def load_rules(spec: str | os.PathLike[str] | RuleSet | Mapping[str, Any] = "default") -> RuleSet:
    """Load a rule set by built-in name (``default``, ``naip``), YAML path or mapping."""
    if isinstance(spec, RuleSet):
        return spec
    if isinstance(spec, Mapping):
        return parse_rules(spec, "<rules>")
    text_spec = os.fspath(spec)
    if text_spec in BUILTIN_RULESETS:
        ref = resources.files("landmask.spectral") / "rulesets" / f"{text_spec}.yaml"
        source = f"rules:{text_spec}"
        return parse_rules(load_yaml(ref.read_text(encoding="utf-8"), source, RuleError), source)
    path = Path(text_spec)
    if not path.exists():
        raise RuleError(
            f"{text_spec}: no such rules file (built-in rule sets: {', '.join(BUILTIN_RULESETS)})"
        )
    text = read_text(path, "rules file", RuleError)
    return parse_rules(load_yaml(text, text_spec, RuleError), text_spec)


@dataclass(frozen=True)
class RulesChoice:
    """The built-in rule set chosen for a scene, and why (one line for the user)."""

    name: str
    reason: str


#: Why a top-of-atmosphere scene gets ``default`` (shown to the user): its cuts were set on
#: surface reflectance, and no top-of-atmosphere variant passed the checks written before
#: they were run (README, "Top-of-atmosphere input"; ``scripts/toa_rules.py``).
TOA_REASON = (
    "top-of-atmosphere reflectance with a 1.6 um band: default's surface-reflectance cuts "
    "(no top-of-atmosphere set passed its held-out checks; path radiance costs forest in "
    "open woodland and adds it in grass beside canopy; a Level-2 product maps better)"
)


def default_rules_for(scene: Any) -> RulesChoice:
    """The built-in rule set for a scene, from its radiometry and its bands.

    - digital numbers (``attrs["radiometry"] == "dn"``: no scale from file, preset or
      options, or an 8-bit NAIP stretch): ``adaptive`` with a 1.6 um SWIR band, else
      ``adaptive-rgbn``. These read only what survives unknown per-band gains and
      offsets (each band stretched between its scene percentiles, scene-wide splits,
      neighbourhood texture);
    - reflectance without a 1.6 um band, or a NAIP scene: ``naip``;
    - reflectance with one: ``default``, if it has a 2.2 um band too (its forest rule
      reads it), else ``naip``. Top-of-atmosphere reflectance (Level-1) too: no
      top-of-atmosphere set passed its held-out checks; the reason says so
      (:data:`TOA_REASON`).

    ``scene`` is a ``(band, y, x)`` DataArray (its ``radiometry`` and ``sensor``
    attributes and band names decide) or a sensor name (``naip`` or ``default``:
    the radiometry is not known before the files are read).
    """
    if isinstance(scene, str | None):
        if (scene or "").lower() == "naip":
            return RulesChoice("naip", "sensor naip")
        return RulesChoice("default", "reflectance assumed before the scene is read")
    names = {str(b) for b in scene["band"].values} if "band" in scene.coords else set()
    radiometry = str(scene.attrs.get("radiometry", ""))
    swir = "swir16" in names or not names
    if radiometry == "dn":
        basis = scene.attrs.get("radiometry_basis")
        why = f"digital numbers ({basis})" if basis else "digital numbers"
        if swir:
            return RulesChoice("adaptive", f"{why}: scene-adaptive rules")
        return RulesChoice("adaptive-rgbn", f"{why}, no 1.6 um band: scene-adaptive rules")
    if str(scene.attrs.get("sensor", "")).lower() == "naip":
        return RulesChoice("naip", "NAIP reflectance")
    if not swir:
        return RulesChoice("naip", "reflectance without a 1.6 um band")
    if names and "swir22" not in names:
        return RulesChoice("naip", "reflectance without a 2.2 um band (default's forest reads it)")
    if radiometry == "toa_reflectance":
        return RulesChoice("default", TOA_REASON)
    return RulesChoice("default", f"{radiometry or 'reflectance'} with a 1.6 um band")


def default_rules(scene: Any) -> str:
    """The name of :func:`default_rules_for`'s rule set."""
    return default_rules_for(scene).name


def _bands_of(names: frozenset[str]) -> list[str]:
    """The bands behind ``names`` (an index by the bands of its formula), sorted."""
    return sorted({b for n in names for b in (INDICES[n].bands if n in INDICES else [n])})


def _propagating(expr: Expr) -> frozenset[str]:
    """The bands whose value, if not finite, makes ``expr`` not finite (see guarded_bands)."""
    if expr.kind == "name":
        name = str(expr.value)
        return _propagating(INDICES[name].expr) if name in INDICES else frozenset([name])
    if expr.kind == "num" or expr.statistic or "**" in expr.ops:
        return frozenset()
    if expr.kind == "arith" and expr.ops[0] == "/":  # a / inf is 0: the numerator only
        return _propagating(expr.args[0])
    if expr.kind in ("arith", "neg", "call"):  # +, -, *; a focal value is NaN at a NaN centre
        return frozenset().union(*(_propagating(a) for a in expr.args))
    return frozenset()


#: Neighbourhood functions that are finite exactly where their argument is at the centre.
_CENTRE_FINITE = frozenset({"focal_mean", "focal_std", "focal_min", "focal_max"})


def _centre_finite(expr: Expr) -> bool:
    """True for a call of a focal function in :data:`_CENTRE_FINITE`."""
    return expr.kind == "call" and expr.value in _CENTRE_FINITE


def _implied(expr: Expr, known: set[Expr]) -> bool:
    """True if ``expr`` is finite wherever every expression in ``known`` is."""
    return expr in known or (_centre_finite(expr) and _implied(expr.args[0], known))


def _finite_within(expr: Expr) -> set[Expr]:
    """``expr`` and the sub-expressions that are finite wherever it is.

    A sum, difference, product or negation is not finite if an operand is not
    (``0 * inf`` is NaN); a quotient if its numerator is not (``x / inf`` is 0, so
    not the denominator); a focal function of :data:`_CENTRE_FINITE` if its
    argument is not, at the centre. Nothing is known inside a power or a statistic.
    """
    out = {expr}
    if expr.kind == "neg" or (expr.kind == "arith" and expr.ops[0] in ("+", "-", "*")):
        for arg in expr.args:
            out |= _finite_within(arg)
    elif (expr.kind == "arith" and expr.ops[0] == "/") or _centre_finite(expr):
        out |= _finite_within(expr.args[0])  # a numerator; a focal function's argument
    return out


def _has_power(expr: Expr) -> bool:
    return "**" in expr.ops or any(_has_power(a) for a in expr.args)


#: Pixels per strip in :func:`classify_block`: a strip's float32 temporaries
#: (512 KB each) stay in a core's L2 cache, which made rules 3x faster than
#: evaluating them over a whole 1024² block.
STRIP_PIXELS = 1 << 17


def classify_block(block: np.ndarray, band_names: Sequence[str], ruleset: RuleSet) -> np.ndarray:
    """Block function: ``(band, y, x)`` reflectance -> ``(y, x)`` uint8 class ids.

    First matching rule wins; unmatched pixels take the default class. A pixel
    is 255 (nodata) where any band the rules read is NaN or any quantity they
    compare (an index, a ratio) is not finite, e.g. after a zero denominator.
    A strip with no valid pixel returns at once without computing any index.
    Every quantity is computed once per pixel, however many rules share it.

    The block is worked through in strips of whole rows of about
    :data:`STRIP_PIXELS` pixels, so every temporary stays in a core's cache and
    the result does not depend on the block's size. Neighbourhood functions
    (``focal_mean(nir, 2)``) are computed strip by strip too, each strip read with
    :attr:`RuleSet.reach` rows of the block above and below it (they are local:
    :mod:`landmask.spectral.focal`); the block itself must hold that many pixels
    of context around the pixels whose class is kept (see
    :func:`landmask.models.inference.run_model`). Memory: the answer and one
    strip's temporaries, whatever the block's size.
    """
    if ruleset.void:  # a statistic of the scene found no valid pixel: nothing to compare
        return np.full(block.shape[1:], NODATA, dtype=np.uint8)
    h, w = block.shape[1:]
    out = np.empty((h, w), dtype=np.uint8)
    reach = ruleset.reach if ruleset.focal_calls else 0
    # at least 8x the reach, so the rows of context a strip reads add at most a quarter
    rows = max(1, STRIP_PIXELS // max(1, w), 8 * reach)
    bands, checks = ruleset.bands, ruleset.finite_checks
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        strip = block[:, top:bottom]
        if bands and not np.isfinite(BlockLookup(strip, band_names)(bands[0])).any():
            out[top:bottom] = NODATA  # a band every pixel needs is missing everywhere
            continue
        focal = _focal_rows(block, band_names, ruleset, top, bottom, reach)
        out[top:bottom] = _classify_strip(strip, band_names, ruleset, focal, bands, checks)
    return out


def _focal_rows(
    block: np.ndarray,
    band_names: Sequence[str],
    ruleset: RuleSet,
    top: int,
    bottom: int,
    reach: int,
) -> dict[Expr, np.ndarray]:
    """Block function: the rules' focal calls and their sub-expressions in rows ``[top, bottom)``.

    Computed over those rows and ``reach`` rows each side (as far as the block
    goes), then trimmed: a kept row sees its whole window or the block's edge.
    A bound scene-wide constant among them is a scalar, the same for every strip.
    """
    if not ruleset.focal_calls:
        return {}
    lo, hi = max(0, top - reach), min(block.shape[1], bottom + reach)
    lookup = BlockLookup(block[:, lo:hi], band_names)
    memo: dict[Expr, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for call in ruleset.focal_calls:
            call.evaluate(lookup, memo)
    return {c: v[top - lo : bottom - lo] if np.ndim(v) else v for c, v in memo.items()}


def _classify_strip(
    block: np.ndarray,
    band_names: Sequence[str],
    ruleset: RuleSet,
    focal: dict[Expr, np.ndarray],
    bands: Sequence[str],
    checks: Sequence[Expr],
) -> np.ndarray:
    """Block function: the rules over one strip; ``bands`` and ``checks`` as in classify_block.

    ``classify_block`` has skipped a strip where ``bands[0]`` is missing everywhere.
    """
    shape = block.shape[1:]
    lookup = BlockLookup(block, band_names)
    out = np.full(shape, NODATA, dtype=np.uint8)
    memo = dict(focal)  # the neighbourhood values of this strip, computed on the block
    valid = np.ones(shape, dtype=bool)
    finite = np.empty(shape, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, 3e38 + 3e38: not finite
        for quantity in checks:
            valid &= np.isfinite(quantity.evaluate(lookup, memo), out=finite)
    # Class ids are added, not scattered: the rules' hits are disjoint, so
    # 255 + valid * (default - 255) + sum(hit * (id - default)) is exact modulo
    # 256, and adding is far cheaper than boolean indexing on speckled masks.
    out += valid.view(np.uint8) * np.uint8((ruleset.default_id - NODATA) % 256)
    todo = valid
    last = len(ruleset.rules) - 1
    with np.errstate(invalid="ignore"):
        for k, rule in enumerate(ruleset.rules):
            hit = rule.expr.evaluate(lookup, memo)
            hit &= todo
            out += hit.view(np.uint8) * np.uint8((rule.class_id - ruleset.default_id) % 256)
            if k < last:  # hit lies within todo: todo and not hit, in one pass
                np.logical_xor(todo, hit, out=todo)
    return out
