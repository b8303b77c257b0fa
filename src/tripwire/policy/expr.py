"""Threshold conditions: a small, safe expression language over evaluation evidence.

A condition is parsed by a hand-written tokenizer and recursive-descent parser into a typed tree;
nothing is ever passed to Python's `eval`. The language has

    score("gpqa_diamond") >= 0.6          a benchmark score (or a policy's named evidence)
    training_compute > 1e25               model quantities: training_compute, cumulative_compute,
                                          effective_compute, cost_usd, params, tokens,
                                          downstream_modification, modification_share,
                                          original_compute
    declared_gpai >= 1                    a policy parameter compared with a number (a fact
                                          about the model or its developer the user sets)
    attested("asl3-security")             a safeguard declared in place for the model
    flagged("vct")  flagged()             an anomaly flag on a benchmark (or on any benchmark)
    any(a, b, ...)  all(a, b, ...)        disjunction / conjunction of conditions
    at_least(2, a, b, c)                  at least k of the conditions hold
    a and b   a or b   not a   ( ... )    boolean logic; `true`, `false`
    >=  >  <=  <                          comparisons of a quantity with a number

Numbers may be written `1e25`, `100_000_000` or `60%` (= 0.6), and a bare identifier that names
one of the policy's `parameters` stands for its (overridable) value. Equality is refused: a
measured quantity is never exactly equal to anything.

Errors carry the character offset into the condition text, so the loader can point at the
exact line and column of the policy file.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

QUANTITIES: dict[str, str] = {
    "training_compute": "physical training compute, FLOP",
    "cumulative_compute": "cumulative training compute as the laws count it (pre-training plus "
                          "fine-tuning and other modifications), FLOP",
    "effective_compute": "training compute x declared algorithmic multiplier, FLOP",
    "cost_usd": "estimated training cost, US dollars",
    "params": "parameter count N",
    "tokens": "training tokens D",
    "downstream_modification": "1 for a model modified by another organisation than its "
                               "parent's (a parent, and modification compute in its ledger), "
                               "else 0",
    "modification_share": "the modification's compute over the original model's training "
                          "compute (over 10^23 or 10^25 FLOP when that is unknown); 0 when "
                          "not a downstream modification",
    "original_compute": "the parent model's cumulative training compute, FLOP (0 when not a "
                        "downstream modification)",
}
"""Model quantities a condition may compare, with their units."""
INDICATORS = frozenset({"downstream_modification"})
"""Quantities that are 0/1 facts: compared without an alert margin."""

FUNCTIONS: dict[str, str] = {
    "score": 'score("benchmark") -> number: the best recorded result on a benchmark',
    "attested": 'attested("safeguard") -> condition: the safeguard is attested as in place',
    "flagged": 'flagged("benchmark") or flagged() -> condition: an anomaly flag is raised',
    "any": "any(c1, c2, ...) -> condition: at least one holds",
    "all": "all(c1, c2, ...) -> condition: every one holds",
    "at_least": "at_least(k, c1, c2, ...) -> condition: at least k hold",
}
KEYWORDS = {"and", "or", "not", "true", "false"}
COMPARISONS = {">=", ">", "<=", "<"}


class ExprError(Exception):
    """A condition that does not parse or type-check, with the offset of the fault."""

    def __init__(self, message: str, offset: int, fix: str) -> None:
        self.message, self.offset, self.fix = message, offset, fix
        super().__init__(f"{message} — {fix}")


# ---------------------------------------------------------------------------------- tokenizer

@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """num, str, ident, op, lparen, rparen, comma, end"""
    text: str
    pos: int
    value: float | str | None = None


def _close(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    return f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(sorted(choices))}"


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens; raise ExprError at the first character that fits none."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] in "._"):
                j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isdigit():
                    j = k
                    while j < n and text[j].isdigit():
                        j += 1
            raw = text[i:j]
            try:
                value = float(raw.replace("_", "")) if "__" not in raw and not raw.endswith("_") \
                    else math.nan
            except ValueError:
                value = math.nan
            if math.isnan(value):
                raise ExprError(f"{raw!r} is not a number", i,
                                "write numbers like 0.6, 1e25 or 100_000_000")
            if j < n and text[j] == "%":
                value /= 100.0
                j += 1
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise ExprError(f"unexpected {text[j]!r} after the number {raw}", j,
                                "write the exponent as 1e25 and put a space before a word")
            out.append(Token("num", text[i:j], i, value))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(Token("ident", text[i:j], i, text[i:j]))
            i = j
            continue
        if c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise ExprError("string is not closed", i, f"end it with {c}")
            out.append(Token("str", text[i:j + 1], i, "".join(buf)))
            i = j + 1
            continue
        two = text[i:i + 2]
        if two in (">=", "<=", "==", "!="):
            out.append(Token("op", two, i))
            i += 2
            continue
        if two in ("&&", "||"):
            word = "and" if two == "&&" else "or"
            raise ExprError(f"{two!r} is not an operator here", i, f"write {word!r}")
        if c in "<>":
            out.append(Token("op", c, i))
            i += 1
            continue
        if c == "!":
            raise ExprError("'!' is not an operator here", i, "write 'not'")
        if c == "=":
            raise ExprError("'=' is not a comparison", i, "compare with >=, >, <= or <")
        kind = {"(": "lparen", ")": "rparen", ",": "comma", "-": "minus"}.get(c)
        if kind is None:
            raise ExprError(f"unexpected character {c!r}", i,
                            "conditions use score(...), model quantities, numbers, comparisons, "
                            "and/or/not and parentheses")
        out.append(Token(kind, c, i))
        i += 1
    out.append(Token("end", "", n))
    return out


# ------------------------------------------------------------------------------------- nodes
# Every condition node evaluates to a 6-tuple of probabilities:
#   (lo, hi, up_lo, up_hi, down_lo, down_hi)
# lo/hi bound P(condition) when some evidence is missing (equal when all is present); `up` is the
# same with every comparison relaxed by its alert margin (toward true) and `down` tightened by it
# (toward false), so that `not` can swap them and alert states stay correct under negation.

Probs = tuple[float, float, float, float, float, float]
UNKNOWN: Probs = (0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
TRUE: Probs = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
FALSE: Probs = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


class Node:
    """Base of the syntax tree; `pos` is the offset in the condition text."""

    pos: int = 0
    is_bool = True

    def children(self) -> list[Node]:
        return []

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children():
            yield from c.walk()


@dataclass(slots=True, eq=False)
class Number(Node):
    value: float
    pos: int = 0
    param: str | None = None
    """Name of the policy parameter this number came from, if any."""
    is_bool = False


@dataclass(slots=True, eq=False)
class Score(Node):
    name: str
    pos: int = 0
    is_bool = False


@dataclass(slots=True, eq=False)
class Quantity(Node):
    name: str
    pos: int = 0
    is_bool = False


@dataclass(slots=True, eq=False)
class Compare(Node):
    """`target op threshold`, with the alert-relaxed (`up`) and tightened (`down`) thresholds."""

    target: Score | Quantity
    op: str
    threshold: Number
    pos: int = 0
    up: float = math.nan
    down: float = math.nan
    need_down: bool = True
    """Whether the tightened probability is used (only under `not`); see mark_negations."""

    def children(self) -> list[Node]:
        return [self.target, self.threshold]

    def set_margin(self, *, additive: float = 0.0, factor: float = 1.0) -> None:
        """Place the alert thresholds: `additive` in score units, or a multiplicative `factor`."""
        t = self.threshold.value
        if factor != 1.0:
            lower, upper = t / factor, t * factor
        else:
            lower, upper = t - additive, t + additive
        if self.op in (">=", ">"):
            self.up, self.down = lower, upper
        else:
            self.up, self.down = upper, lower

    def ev(self, j: Judge) -> Probs:
        return j.compare(self)


@dataclass(slots=True, eq=False)
class ParamTest(Node):
    """`parameter op number`: a fact the user states (e.g. `--set declared_gpai=1`), exact;
    unknown (both outcomes possible) while the parameter has no value."""

    param: Number
    op: str
    threshold: Number
    pos: int = 0

    def children(self) -> list[Node]:
        return [self.param, self.threshold]

    def ev(self, j: Judge) -> Probs:
        v, t = self.param.value, self.threshold.value
        if math.isnan(v) or math.isnan(t):
            name = self.param.param if math.isnan(v) else self.threshold.param
            return j.unset(name or "?")
        op = self.op
        ok = v >= t if op == ">=" else v > t if op == ">" else v <= t if op == "<=" else v < t
        return TRUE if ok else FALSE


@dataclass(slots=True, eq=False)
class Const(Node):
    value: bool
    pos: int = 0

    def ev(self, j: Judge) -> Probs:
        return TRUE if self.value else FALSE


@dataclass(slots=True, eq=False)
class Attested(Node):
    safeguard: str
    pos: int = 0

    def ev(self, j: Judge) -> Probs:
        return TRUE if j.attested(self.safeguard) else FALSE


@dataclass(slots=True, eq=False)
class Flagged(Node):
    benchmark: str | None
    pos: int = 0

    def ev(self, j: Judge) -> Probs:
        return TRUE if j.flagged(self.benchmark) else FALSE


@dataclass(slots=True, eq=False)
class Not(Node):
    arg: Node
    pos: int = 0

    def children(self) -> list[Node]:
        return [self.arg]

    def ev(self, j: Judge) -> Probs:
        lo, hi, ulo, uhi, dlo, dhi = self.arg.ev(j)  # type: ignore[attr-defined]
        return (1 - hi, 1 - lo, 1 - dhi, 1 - dlo, 1 - uhi, 1 - ulo)


@dataclass(slots=True, eq=False)
class AllOf(Node):
    """Conjunction. Judged as independent: distinct results carry independent sampling error."""

    args: list[Node] = field(default_factory=list)
    pos: int = 0

    def children(self) -> list[Node]:
        return list(self.args)

    def ev(self, j: Judge) -> Probs:
        r = [1.0] * 6
        for a in self.args:
            p = a.ev(j)  # type: ignore[attr-defined]
            for i in range(6):
                r[i] *= p[i]
        return tuple(r)  # type: ignore[return-value]


@dataclass(slots=True, eq=False)
class AnyOf(Node):
    """Disjunction, judged as independent: P(a or b) = 1 - (1 - Pa)(1 - Pb)."""

    args: list[Node] = field(default_factory=list)
    pos: int = 0

    def children(self) -> list[Node]:
        return list(self.args)

    def ev(self, j: Judge) -> Probs:
        r = [1.0] * 6
        for a in self.args:
            p = a.ev(j)  # type: ignore[attr-defined]
            for i in range(6):
                r[i] *= 1.0 - p[i]
        return tuple(1.0 - x for x in r)  # type: ignore[return-value]


@dataclass(slots=True, eq=False)
class AtLeast(Node):
    """At least k of n independent conditions (a Poisson-binomial tail)."""

    k: int
    args: list[Node] = field(default_factory=list)
    pos: int = 0

    def children(self) -> list[Node]:
        return list(self.args)

    def ev(self, j: Judge) -> Probs:
        ps = [a.ev(j) for a in self.args]  # type: ignore[attr-defined]
        return tuple(_tail([p[i] for p in ps], self.k) for i in range(6))  # type: ignore[return-value]


def _tail(ps: list[float], k: int) -> float:
    """P(at least k successes) for independent Bernoulli(p_i), by dynamic programming."""
    dist = [1.0]
    for p in ps:
        nxt = [0.0] * (len(dist) + 1)
        for c, w in enumerate(dist):
            nxt[c] += w * (1 - p)
            nxt[c + 1] += w * p
        dist = nxt
    return min(1.0, max(0.0, sum(dist[k:])))


class Judge(Protocol):
    """What a condition needs from the evidence; `tripwire.policy.evaluate` implements it."""

    def compare(self, node: Compare) -> Probs: ...

    def attested(self, safeguard: str) -> bool: ...

    def flagged(self, benchmark: str | None) -> bool: ...

    def unset(self, parameter: str) -> Probs: ...


# ------------------------------------------------------------------------------------ parser

_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
MAX_DEPTH = 50
"""Deepest nesting of parentheses, `not` and function calls a condition may use."""


class _Parser:
    def __init__(self, text: str, parameters: Mapping[str, float | None]) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.parameters = parameters
        self.depth = 0

    def nest(self) -> None:
        """Count one level of nesting; refuse conditions nested deeper than MAX_DEPTH (the
        parser recurses once per level and would otherwise exhaust Python's stack)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"the condition nests more than {MAX_DEPTH} levels deep",
                            self.tok.pos, "flatten it with any(...), all(...) or at_least(...)")

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_word(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text == word

    def expect(self, kind: str, what: str, fix: str) -> Token:
        if self.tok.kind != kind:
            found = self.tok.text or "the end of the condition"
            raise ExprError(f"expected {what}, found {found!r}", self.tok.pos, fix)
        return self.next()

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExprError("the condition is empty", 0,
                            'write one, e.g. score("gpqa_diamond") >= 0.6')
        node = self.or_()
        if self.tok.kind != "end":
            t = self.tok
            fix = "join conditions with 'and' or 'or'"
            if t.kind == "op":
                fix = "chain comparisons with 'and': a >= 1 and a <= 2"
            elif t.kind == "rparen":
                fix = "remove it or add the matching '('"
            raise ExprError(f"unexpected {t.text!r}", t.pos, fix)
        self.need_bool(node, "a condition")
        return node

    def need_bool(self, node: Node, where: str) -> None:
        if not node.is_bool:
            if isinstance(node, Number):
                raise ExprError(f"a number cannot be {where}", node.pos,
                                "compare a quantity with it, e.g. training_compute >= 1e25")
            raise ExprError(f"{self.describe(node)} is a number, not {where}", node.pos,
                            f"compare it with a threshold, e.g. {self.describe(node)} >= 0.5")

    def describe(self, node: Node) -> str:
        if isinstance(node, Score):
            return f'score("{node.name}")'
        if isinstance(node, Quantity):
            return node.name
        return "the expression"

    def or_(self) -> Node:
        self.nest()
        first = self.and_()
        args = [first]
        while self.is_word("or"):
            self.next()
            args.append(self.and_())
        self.depth -= 1
        if len(args) == 1:
            return first
        for a in args:
            self.need_bool(a, "an operand of 'or'")
        return AnyOf(args, first.pos)

    def and_(self) -> Node:
        first = self.not_()
        args = [first]
        while self.is_word("and"):
            self.next()
            args.append(self.not_())
        if len(args) == 1:
            return first
        for a in args:
            self.need_bool(a, "an operand of 'and'")
        return AllOf(args, first.pos)

    def not_(self) -> Node:
        if self.is_word("not"):
            t = self.next()
            self.nest()
            arg = self.not_()
            self.depth -= 1
            self.need_bool(arg, "negated")
            return Not(arg, t.pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.tok.kind != "op":
            return left
        op = self.next()
        if op.text in ("==", "!="):
            raise ExprError(f"{op.text!r} is not allowed", op.pos,
                            "a measured quantity is never exactly equal; use >=, >, <= or <")
        right = self.operand()
        if self.tok.kind == "op":
            raise ExprError("comparisons cannot be chained", self.tok.pos,
                            "join them with 'and': a >= 1 and a <= 2")
        if isinstance(left, (Score, Quantity)) and isinstance(right, Number):
            return Compare(left, op.text, right, left.pos)
        if isinstance(left, Number) and isinstance(right, (Score, Quantity)):
            return Compare(right, _FLIP[op.text], left, left.pos)
        bad = left if left.is_bool or not isinstance(left, (Score, Quantity, Number)) else right
        if isinstance(left, Number) and isinstance(right, Number):
            if left.param is not None or right.param is not None:
                if left.param is None:
                    return ParamTest(right, _FLIP[op.text], left, left.pos)
                return ParamTest(left, op.text, right, left.pos)
            raise ExprError("both sides are numbers", left.pos,
                            "compare a score, a model quantity or a parameter with a number")
        if isinstance(left, (Score, Quantity)) and isinstance(right, (Score, Quantity)):
            raise ExprError("two measured quantities cannot be compared", right.pos,
                            "compare each with a number")
        raise ExprError("only numbers can be compared", bad.pos,
                        "compare score(...) or a model quantity with a number")

    def operand(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.next()
            return Number(float(t.value), t.pos)  # type: ignore[arg-type]
        if t.kind == "minus":
            self.next()
            n = self.expect("num", "a number after '-'", "write a number such as -0.5")
            return Number(-float(n.value), t.pos)  # type: ignore[arg-type]
        if t.kind == "lparen":
            self.next()
            inner = self.or_()
            self.expect("rparen", "')'", "close the parenthesis")
            return inner
        if t.kind == "str":
            raise ExprError(f"a string {t.text} cannot stand alone", t.pos,
                            f"use it inside a function, e.g. score({t.text})")
        if t.kind == "ident":
            self.next()
            name = t.text
            if self.tok.kind == "lparen":
                return self.call(t)
            if name in ("true", "false"):
                return Const(name == "true", t.pos)
            if name in ("and", "or", "not"):
                raise ExprError(f"{name!r} needs a condition before it", t.pos,
                                "write e.g. score(\"a\") >= 0.5 and score(\"b\") >= 0.5")
            if name in QUANTITIES:
                return Quantity(name, t.pos)
            if name in self.parameters:
                value = self.parameters[name]
                return Number(math.nan if value is None else float(value), t.pos, param=name)
            if name in FUNCTIONS:
                raise ExprError(f"{name} is a function", t.pos, f"call it: {FUNCTIONS[name]}")
            choices = list(QUANTITIES) + list(self.parameters)
            raise ExprError(f"unknown name {name!r}", t.pos,
                            _close(name, choices) + " (or declare it under parameters:)")
        found = t.text or "the end of the condition"
        raise ExprError(f"expected a value, found {found!r}", t.pos,
                        'write a number, a quantity, score("...") or a condition')

    def call(self, name_tok: Token) -> Node:
        name = name_tok.text
        if name not in FUNCTIONS:
            raise ExprError(f"unknown function {name!r}", name_tok.pos,
                            _close(name, list(FUNCTIONS)))
        self.expect("lparen", "'('", "open the argument list")
        args: list[Node | Token] = []
        if self.tok.kind != "rparen":
            while True:
                if self.tok.kind == "str":
                    args.append(self.next())
                else:
                    args.append(self.or_())
                if self.tok.kind == "comma":
                    self.next()
                    continue
                break
        self.expect("rparen", "')' or ','", "separate arguments with ',' and close with ')'")
        pos = name_tok.pos
        if name in ("score", "attested", "flagged"):
            if name == "flagged" and not args:
                return Flagged(None, pos)
            if len(args) != 1 or not isinstance(args[0], Token):
                raise ExprError(f"{name}() takes one quoted name", pos, FUNCTIONS[name])
            value = str(args[0].value)
            if not value.strip():
                raise ExprError(f"{name}() was given an empty name", args[0].pos,
                                "name the benchmark or safeguard")
            if name == "score":
                return Score(value, pos)
            if name == "attested":
                return Attested(value, pos)
            return Flagged(value, pos)
        for a in args:
            if isinstance(a, Token):
                raise ExprError(f"a string cannot be an argument of {name}()", a.pos,
                                FUNCTIONS[name])
        nodes: list[Node] = [a for a in args if isinstance(a, Node)]
        if name == "at_least":
            if len(nodes) < 2 or not isinstance(nodes[0], Number):
                raise ExprError("at_least() needs a count and conditions", pos,
                                FUNCTIONS[name])
            k = nodes[0].value
            if not math.isfinite(k) or k != int(k) or k < 1 or k > len(nodes) - 1:
                raise ExprError(f"at_least() count {k:g} must be a whole number from 1 to "
                                f"{len(nodes) - 1}", nodes[0].pos, "fix the count")
            for a in nodes[1:]:
                self.need_bool(a, "an argument of at_least()")
            return AtLeast(int(k), nodes[1:], pos)
        if not nodes:
            raise ExprError(f"{name}() needs at least one condition", pos, FUNCTIONS[name])
        for a in nodes:
            self.need_bool(a, f"an argument of {name}()")
        return AnyOf(nodes, pos) if name == "any" else AllOf(nodes, pos)


@dataclass
class Condition:
    """A parsed condition: its text, its tree, and the names it refers to."""

    text: str
    root: Node

    @property
    def comparisons(self) -> list[Compare]:
        return [n for n in self.root.walk() if isinstance(n, Compare)]

    @property
    def benchmarks(self) -> list[tuple[str, int]]:
        """(name, offset) of every score("...") and flagged("...") reference."""
        out = []
        for n in self.root.walk():
            if isinstance(n, Score):
                out.append((n.name, n.pos))
            elif isinstance(n, Flagged) and n.benchmark:
                out.append((n.benchmark, n.pos))
        return out

    @property
    def safeguards(self) -> list[tuple[str, int]]:
        return [(n.safeguard, n.pos) for n in self.root.walk() if isinstance(n, Attested)]

    @property
    def parameters(self) -> list[str]:
        return [n.param for n in self.root.walk() if isinstance(n, Number) and n.param]

    def ev(self, judge: Judge) -> Probs:
        return self.root.ev(judge)  # type: ignore[attr-defined]


def mark_negations(node: Node, negated: bool = False) -> None:
    """Tell each comparison whether it sits under `not` (an odd number of them): only there is
    its tightened (`down`) probability needed, so elsewhere it is not computed."""
    if isinstance(node, Compare):
        node.need_down = negated
        return
    for child in node.children():
        mark_negations(child, not negated if isinstance(node, Not) else negated)


def parse(text: str, parameters: Mapping[str, float | None] | None = None) -> Condition:
    """Parse and type-check a condition; raise ExprError (with offset and fix) if it is wrong."""
    root = _Parser(text, parameters or {}).parse()
    mark_negations(root)
    return Condition(text, root)
