"""A small, safe expression language for index formulas and rules.

Expressions are parsed by a recursive-descent parser into a tree and evaluated
with numpy; user text is never passed to ``eval``. The grammar::

    expr       := or ( "or" or )*          boolean
    or         := and ( "and" and )*
    and        := "not" and | comparison
    comparison := sum ( ("<"|"<="|">"|">="|"=="|"!=") sum )*   chains mean "and"
    sum        := term ( ("+"|"-") term )*
    term       := unary ( ("*"|"/") unary )*
    unary      := ("-"|"+") unary | power
    power      := atom ( "**" unary )?
    atom       := NUMBER | NAME | call | "(" expr ")"
    call       := FUNCTION "(" expr ( "where" expr )? ( "," NUMBER )? ")"

``FUNCTION`` is one of :data:`FUNCTIONS`, of two kinds:

* a **scene-wide statistic** (:data:`STATISTICS`) of its argument: ``otsu(x)``
  (Otsu's threshold of ``x``'s histogram over the whole scene),
  ``percentile(x, P)`` (``0 <= P <= 100``), ``dark(x)`` (= ``percentile(x, 1)``,
  the dark object of dark-object subtraction) and ``valley(x)`` (the top of a
  separate cluster of ``x``'s darkest values, or ``x``'s minimum if there is
  none: :func:`landmask.spectral.thresholds.valley`). A statistic is not evaluated
  block by block: it is replaced by its value first
  (:func:`landmask.spectral.thresholds.resolve_thresholds`);
* a **neighbourhood** (focal) function (:data:`FOCAL_FUNCTIONS`):
  ``focal_mean(x, R)``, ``focal_std``, ``focal_min``, ``focal_max``,
  ``focal_range``, a statistic of ``x`` over the ``(2R + 1)²`` window around
  each pixel (``1 <= R <=`` :data:`~landmask.spectral.focal.MAX_RADIUS`), with
  the edge and NaN semantics of :mod:`landmask.spectral.focal`. Evaluated block
  by block, on blocks grown by :attr:`Expr.reach` pixels.

``R`` and ``P`` are number literals. A statistic's argument may hold focal
functions (``percentile(focal_std(nir, 2), 90)``: computed on chunks grown by
their reach) and other statistics (``percentile(nir / percentile(nir, 99), 50)``:
the inner ones are computed first, one pass over the scene per level of
nesting); a focal function's argument may hold statistics and focal functions
(their reaches add up). Any other name before ``(`` is an error.

A statistic may be taken over part of the scene: ``otsu(vis where ndvi > 0.3)``
counts only the pixels where the condition after ``where`` holds (``where`` is
allowed only there: a pixel's own value never depends on it).

Expressions are bounded: at most :data:`MAX_LENGTH` characters,
:data:`MAX_DEPTH` levels of nesting (parentheses, ``not``, signs, ``**``) and
:data:`MAX_HEIGHT` operations in one chain (``a + b + ...``), so that no text can exhaust the
parser's or the evaluator's recursion, and nested focal functions reach at most
:data:`MAX_REACH` pixels, so that no text can make a chunk's halo exhaust memory; longer,
deeper or farther-reaching text is a :class:`~landmask.errors.RuleError`.

Names are band common names or index names. Arithmetic is float32; ``a / 0``
is not finite (NaN or +-inf). :func:`landmask.spectral.rules.classify_block` treats a
pixel where any compared quantity is not finite as missing (nodata), and index
rasters hold NaN there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

from landmask.errors import RuleError
from landmask.spectral.focal import FOCAL, MAX_RADIUS, focal

__all__ = [
    "FOCAL_FUNCTIONS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_HEIGHT",
    "MAX_LENGTH",
    "MAX_REACH",
    "STATISTICS",
    "Expr",
    "parse",
]

#: Longest expression text accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting accepted: parentheses, ``not``, signs and ``**`` inside each other.
MAX_DEPTH = 48
#: Farthest reach accepted, in pixels: nested focal radii added up (each chunk is
#: read with this many pixels of its neighbours on every side).
MAX_REACH = 100
#: Highest expression tree accepted: a chain ``a + b + ...`` of this many
#: operations, or operations and nesting together.
MAX_HEIGHT = 100

Lookup = Callable[[str], np.ndarray]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|==|!=|[-+*/<>(),]))"
)
_KEYWORDS = {"and", "or", "not", "where"}

#: Scene-wide statistics, by name: the name of their second (literal) argument, if any.
STATISTICS: dict[str, str | None] = {
    "otsu": None,
    "percentile": "P",
    "dark": None,
    "valley": None,
}
#: Neighbourhood functions: each takes an expression and a radius ``R``.
FOCAL_FUNCTIONS = frozenset(FOCAL)
#: Every function an expression may call.
FUNCTIONS = frozenset(STATISTICS) | FOCAL_FUNCTIONS
_SECOND: dict[str, str | None] = {**STATISTICS, **dict.fromkeys(FOCAL_FUNCTIONS, "R")}
#: Literal arguments' allowed ranges and whether they must be whole numbers.
_LITERALS = {"P": (0.0, 100.0, False), "R": (1.0, float(MAX_RADIUS), True)}
_CMP = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # IEEE division: a zero denominator gives NaN or +-inf, both non-finite,
    # which callers treat as missing (cheaper than masking the zeros first)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.divide(a, b)


_ARITH: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": _divide,
    "**": np.power,
}


@dataclass(frozen=True)
class Expr:
    """A parsed expression node.

    ``kind`` is one of ``num``, ``name``, ``neg``, ``arith``, ``cmp``, ``and``,
    ``or``, ``not``, ``call`` (``value`` is the function name, ``args`` its
    argument and, for two-argument functions, a ``num`` node), ``where`` (a
    statistic's argument restricted to part of the scene: ``args`` the value and
    the condition; NaN where the condition is false); ``boolean`` tells whether
    it yields a mask.
    """

    kind: str
    value: float | str | None = None
    args: tuple[Expr, ...] = ()
    ops: tuple[str, ...] = ()

    # An expression is evaluated strip by strip, each node looked up in a memo:
    # its hash and the properties below are computed once per node, not on every
    # lookup (hashing a tree of frozen dataclasses walks the whole tree). They are
    # kept in the instance's __dict__ and left out of pickles (hashes of text
    # differ between processes).

    def __hash__(self) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.kind, self.value, self.args, self.ops))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def boolean(self) -> bool:
        """True if the expression evaluates to a boolean mask."""
        return self.kind in ("cmp", "and", "or", "not")

    @cached_property
    def names(self) -> frozenset[str]:
        """Every name the expression reads."""
        if self.kind == "name":
            return frozenset([str(self.value)])
        return frozenset().union(*(a.names for a in self.args))

    @cached_property
    def quantities(self) -> tuple[Expr, ...]:
        """The numeric operands of every comparison, constants left out, in order."""
        if self.kind == "cmp":
            return tuple(a for a in self.args if a.kind != "num")
        if self.boolean:
            return tuple(q for a in self.args for q in a.quantities)
        return ()

    @property
    def statistic(self) -> bool:
        """True for a call of a scene-wide statistic (:data:`STATISTICS`)."""
        return self.kind == "call" and self.value in STATISTICS

    @cached_property
    def calls(self) -> tuple[Expr, ...]:
        """Every distinct scene-wide statistic call in the expression, in order."""
        if self.statistic:
            return (self,)
        return tuple(dict.fromkeys(c for a in self.args for c in a.calls))

    @cached_property
    def all_calls(self) -> tuple[Expr, ...]:
        """Every distinct statistic call, those inside other statistics too, innermost first."""
        inner = (c for a in self.args for c in a.all_calls)
        own = (self,) if self.statistic else ()
        return tuple(dict.fromkeys((*inner, *own)))

    @cached_property
    def focal_calls(self) -> tuple[Expr, ...]:
        """Every distinct neighbourhood function call evaluated pixel by pixel, outermost first.

        Calls inside a scene-wide statistic's argument are left out: the
        statistic is bound to a number before any pixel is classified.
        """
        if self.statistic:
            return ()
        own = (self,) if self.kind == "call" and self.value in FOCAL_FUNCTIONS else ()
        return tuple(dict.fromkeys((*own, *(c for a in self.args for c in a.focal_calls))))

    @cached_property
    def reach(self) -> int:
        """Pixels of context a value needs on each side: the sum of nested focal radii.

        A scene-wide statistic reaches nothing: it is one number.
        """
        if self.statistic:
            return 0
        if self.kind == "call" and self.value in FOCAL_FUNCTIONS:
            return int(self.args[1].value or 0) + self.args[0].reach
        return max((a.reach for a in self.args), default=0)

    @cached_property
    def pixel_names(self) -> frozenset[str]:
        """The names read pixel by pixel: those outside scene-wide statistics."""
        if self.statistic:
            return frozenset()
        if self.kind == "name":
            return frozenset([str(self.value)])
        return frozenset().union(*(a.pixel_names for a in self.args))

    def bind(self, values: Mapping[Expr, float]) -> Expr:
        """A copy with each call in ``values`` replaced by its number."""
        if self in values:
            return Expr("num", value=float(values[self]))
        if not self.args:
            return self
        return Expr(self.kind, self.value, tuple(a.bind(values) for a in self.args), self.ops)

    def __str__(self) -> str:
        return self.text({})

    def text(self, names: Mapping[Expr, str]) -> str:
        """The expression written out, each sub-expression in ``names`` by its name.

        A rule set's ``define:`` names expand into their expressions before
        parsing; ``names`` (:attr:`landmask.spectral.rules.RuleSet.labels`) folds
        them back, so a statistic reads ``otsu(dark_s where ndvi_s > 0.15)``
        instead of a thousand characters of stretched bands.
        """
        if self in names:
            return names[self]
        k = self.kind
        if k == "num":
            return f"{self.value:g}"
        if k == "name":
            return str(self.value)
        if k == "call":
            return f"{self.value}({', '.join(a.text(names) for a in self.args)})"
        if k == "where":
            return f"{self.args[0].text(names)} where {self.args[1].text(names)}"
        if k == "neg":
            return f"-{self._operand(self.args[0], names)}"
        if k == "not":
            return f"not {self._operand(self.args[0], names)}"
        if k == "arith":
            return f" {self.ops[0]} ".join(self._operand(a, names) for a in self.args)
        if k == "cmp":
            parts = [self.args[0].text(names)]
            for op, arg in zip(self.ops, self.args[1:], strict=True):
                parts += [op, arg.text(names)]
            return " ".join(parts)
        return f" {k} ".join(self._operand(a, names) for a in self.args)

    @staticmethod
    def _operand(arg: Expr, names: Mapping[Expr, str]) -> str:
        plain = arg in names or arg.kind in ("num", "name", "call")
        return arg.text(names) if plain else f"({arg.text(names)})"

    def evaluate(self, lookup: Lookup, memo: dict[Expr, np.ndarray] | None = None) -> np.ndarray:
        """Evaluate with ``lookup(name) -> array``; float32 or boolean result.

        ``memo`` (optional) caches numeric sub-expressions across calls, so a
        quantity shared by several rules is computed once per block.
        """
        k = self.kind
        if k == "num":
            return np.float32(self.value)  # type: ignore[return-value]
        if k == "name":
            return lookup(str(self.value))
        if self.statistic:
            raise RuleError(f"{self} is a scene-wide value: resolve_thresholds() binds it first")
        if memo is not None and not self.boolean:
            if self not in memo:
                memo[self] = self._compute(lookup, memo)
            return memo[self]
        return self._compute(lookup, memo)

    def _compute(self, lookup: Lookup, memo: dict[Expr, np.ndarray] | None) -> np.ndarray:
        k = self.kind
        if k == "where":  # a statistic's argument over part of the scene
            value, keep = (a.evaluate(lookup, memo) for a in self.args)
            return np.where(keep, value, np.float32(np.nan)).astype(np.float32, copy=False)
        if k == "call":  # a neighbourhood function, over the whole block
            inner = self.args[0].evaluate(lookup, memo)
            return focal(str(self.value), inner, int(self.args[1].value or 0))
        if k == "neg":
            return np.negative(self.args[0].evaluate(lookup, memo))
        if k == "arith":
            left, right = (a.evaluate(lookup, memo) for a in self.args)
            return _ARITH[self.ops[0]](left, right)
        if k == "cmp":
            values = [a.evaluate(lookup, memo) for a in self.args]
            result = _CMP[self.ops[0]](values[0], values[1])
            for op, left, right in zip(self.ops[1:], values[1:], values[2:], strict=False):
                result &= _CMP[op](left, right)
            return result
        if k == "not":
            return np.logical_not(self.args[0].evaluate(lookup, memo))
        combine = np.logical_and if k == "and" else np.logical_or
        result = self.args[0].evaluate(lookup, memo)
        for arg in self.args[1:]:
            result = combine(result, arg.evaluate(lookup, memo))
        return result


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                col = pos + len(text[pos:]) - len(text[pos:].lstrip())
                raise RuleError(f"unexpected character {text[col]!r} at column {col + 1}")
            kind = m.lastgroup or ""
            value = m.group(kind)
            col = m.start(kind) + 1
            if kind == "name" and value in _KEYWORDS:
                kind = "op"
            self.tokens.append((kind, value, col))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def nest(self, col: int) -> None:
        """Count one more level of nesting at ``col``; refuse beyond :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleError(
                f"expression nested more than {MAX_DEPTH} levels deep at column {col} "
                "(parentheses, 'not', signs, '**'): simplify it"
            )

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise RuleError("unexpected end of expression")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if not self.tokens:
            raise RuleError("empty expression")
        node = self.or_()
        if self.i < len(self.tokens):
            _, value, col = self.tokens[self.i]
            if value == "where":
                raise RuleError(
                    f"'where' at column {col} is allowed only inside a scene-wide statistic "
                    "(otsu(x where ndvi > 0.3))"
                )
            raise RuleError(f"unexpected {value!r} at column {col}")
        return node

    def _bool(self, node: Expr, word: str) -> Expr:
        if not node.boolean:
            raise RuleError(f"'{word}' needs comparisons on both sides, not a number")
        return node

    def or_(self) -> Expr:
        args = [self.and_()]
        while self.peek() == "or":
            self.take()
            args.append(self.and_())
        if len(args) == 1:
            return args[0]
        return Expr("or", args=tuple(self._bool(a, "or") for a in args))

    def and_(self) -> Expr:
        args = [self.not_()]
        while self.peek() == "and":
            self.take()
            args.append(self.not_())
        if len(args) == 1:
            return args[0]
        return Expr("and", args=tuple(self._bool(a, "and") for a in args))

    def not_(self) -> Expr:
        if self.peek() == "not":
            self.nest(self.take()[2])
            node = Expr("not", args=(self._bool(self.not_(), "not"),))
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Expr:
        args = [self.sum_()]
        ops: list[str] = []
        while self.peek() in _CMP:
            ops.append(self.take()[1])
            args.append(self.sum_())
        if not ops:
            return args[0]
        for a in args:
            if a.boolean:
                raise RuleError("cannot compare a comparison; use 'and' or parentheses")
        return Expr("cmp", args=tuple(args), ops=tuple(ops))

    def _number(self, node: Expr, op: str) -> Expr:
        if node.boolean:
            raise RuleError(f"'{op}' needs numbers, not a comparison")
        return node

    def sum_(self) -> Expr:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = Expr(
                "arith", args=(self._number(node, op), self._number(self.term(), op)), ops=(op,)
            )
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            node = Expr(
                "arith", args=(self._number(node, op), self._number(self.unary(), op)), ops=(op,)
            )
        return node

    def unary(self) -> Expr:
        if self.peek() in ("-", "+"):
            _, op, col = self.take()
            self.nest(col)
            operand = self._number(self.unary(), op)
            self.depth -= 1
            if op == "+":
                return operand
            if operand.kind == "num":
                return Expr("num", value=-float(operand.value or 0))
            return Expr("neg", args=(operand,))
        return self.power()

    def power(self) -> Expr:
        node = self.atom()
        if self.peek() == "**":
            self.nest(self.take()[2])
            node = Expr(
                "arith",
                args=(self._number(node, "**"), self._number(self.unary(), "**")),
                ops=("**",),
            )
            self.depth -= 1
        return node

    def atom(self) -> Expr:
        kind, value, col = self.take()
        if kind == "num":
            return Expr("num", value=float(value))
        if kind == "name":
            if self.peek() == "(":
                return self.call(value, col)
            return Expr("name", value=value)
        if value == "(":
            self.nest(col)
            node = self.or_()
            if self.peek() != ")":
                raise RuleError(f"missing ')' for '(' at column {col}")
            self.take()
            self.depth -= 1
            return node
        raise RuleError(f"unexpected {value!r} at column {col}")

    def call(self, function: str, col: int) -> Expr:
        if function not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise RuleError(f"unknown function {function!r} at column {col} (known: {known})")
        second = _SECOND[function]
        usage = f"{function}(EXPR, {second})" if second else f"{function}(EXPR)"
        self.take()  # "("
        self.nest(col)
        if self.peek() in (")", ","):
            raise RuleError(f"{function}() at column {col} needs an argument: {usage}")
        arg = self._number(self.or_(), function)
        if not arg.pixel_names:
            raise RuleError(f"{function}() at column {col} needs an index or band, not a number")
        if self.peek() == "where":
            _, _, at = self.take()
            if function not in STATISTICS:
                raise RuleError(
                    f"'where' at column {at}: only a scene-wide statistic is taken over part "
                    f"of the scene, not {function}()"
                )
            keep = self.or_()
            if not keep.boolean:
                raise RuleError(f"'where' at column {at} needs a comparison, not a number")
            arg = Expr("where", args=(arg, keep))
        args = [arg]
        if self.peek() == ",":
            self.take()
            if second is None:
                raise RuleError(f"{function}() at column {col} takes one argument: {usage}")
            args.append(self.literal(function, second, col))
        elif second is not None:
            raise RuleError(f"{function}() at column {col} takes two arguments: {usage}")
        if self.peek() != ")":
            count = "two arguments" if second else "one argument"
            raise RuleError(f"{function}() at column {col} takes {count}, then ')': {usage}")
        self.take()
        self.depth -= 1
        return Expr("call", value=function, args=tuple(args))

    def literal(self, function: str, what: str, col: int) -> Expr:
        """The literal second argument of ``function`` (``R`` or ``P``), range-checked."""
        node = self.or_() if self.peek() not in (")", ",", None) else None
        low, high, whole = _LITERALS[what]
        kind = "a whole number" if whole else "a number"
        if node is None or node.kind != "num":
            raise RuleError(
                f"{function}() at column {col}: {what} must be {kind} written out "
                f"({low:g} to {high:g}), not an expression"
            )
        value = float(node.value or 0)
        if not low <= value <= high or (whole and value != int(value)):
            raise RuleError(
                f"{function}() at column {col}: {what} = {value:g} is out of range "
                f"({kind} from {low:g} to {high:g})"
            )
        return node


def parse(text: str) -> Expr:
    """Parse ``text`` into an :class:`Expr`; raises :class:`RuleError` on bad syntax."""
    if not isinstance(text, str):
        raise RuleError(f"expression must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise RuleError(
            f"expression is {len(text)} characters long; at most {MAX_LENGTH} are accepted"
        )
    node = _Parser(text).parse()
    if _height(node) > MAX_HEIGHT:
        raise RuleError(
            f"expression is more than {MAX_HEIGHT} operations deep "
            f"(e.g. a sum of {MAX_HEIGHT} terms): simplify it"
        )
    deepest = max([node.reach, *(c.args[0].reach for c in node.all_calls)])
    if deepest > MAX_REACH:
        raise RuleError(
            f"nested neighbourhood functions reach {deepest} px; at most {MAX_REACH} px "
            "(the sum of their radii) are accepted"
        )
    return node


def _height(node: Expr) -> int:
    """The height of the tree under ``node``, found without recursion."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        current, level = todo.pop()
        deepest = max(deepest, level)
        todo.extend((a, level + 1) for a in current.args)
    return deepest
