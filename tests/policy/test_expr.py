"""The condition language: tokenizer, parser, type checks, error offsets, probability logic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tripwire.policy.expr import (
    AllOf,
    AnyOf,
    AtLeast,
    Compare,
    ExprError,
    Not,
    Number,
    Quantity,
    Score,
    _tail,
    parse,
    tokenize,
)


def test_score_comparison_and_numbers():
    c = parse('score("gpqa_diamond") >= 0.6')
    assert isinstance(c.root, Compare)
    assert isinstance(c.root.target, Score) and c.root.target.name == "gpqa_diamond"
    assert c.root.op == ">=" and c.root.threshold.value == 0.6
    assert parse("cost_usd > 100_000_000").root.threshold.value == 1e8
    assert parse("training_compute > 1e25").root.threshold.value == 1e25
    assert parse('score("x") >= 60%').root.threshold.value == pytest.approx(0.6)
    assert parse('score("x") >= .5').root.threshold.value == 0.5


def test_number_on_the_left_flips_the_operator():
    c = parse("1e25 < training_compute")
    assert isinstance(c.root.target, Quantity) and c.root.op == ">"


def test_precedence_not_and_or():
    c = parse('not attested("a") and score("x") > 1 or flagged()')
    assert isinstance(c.root, AnyOf)
    conj = c.root.args[0]
    assert isinstance(conj, AllOf) and isinstance(conj.args[0], Not)


def test_functions_and_names_collected():
    c = parse('any(score("a") > 1, all(flagged("b"), attested("s")), '
              'at_least(2, tokens > 1, params > 1, effective_compute > 1))')
    assert [n for n, _ in c.benchmarks] == ["a", "b"]
    assert [n for n, _ in c.safeguards] == ["s"]
    at = [n for n in c.root.walk() if isinstance(n, AtLeast)][0]
    assert at.k == 2 and len(at.args) == 3


def test_parameters_are_numbers_and_unset_ones_are_nan():
    c = parse('score("a") >= bar and score("b") >= unset', {"bar": 0.3, "unset": None})
    nums = [n for n in c.root.walk() if isinstance(n, Number)]
    assert nums[0].value == 0.3 and nums[0].param == "bar"
    assert math.isnan(nums[1].value)
    assert c.parameters == ["bar", "unset"]


@pytest.mark.parametrize("text,offset,fragment", [
    ('score("a")', 0, "is a number, not a condition"),
    ('score("a") == 1', 11, "'==' is not allowed"),
    ('1 < score("a") < 2', 15, "cannot be chained"),
    ("training_compute >= 1e25 && true", 25, "write 'and'"),
    ('scor("a") > 1', 0, "did you mean score"),
    ("traning_compute > 1", 0, "did you mean training_compute"),
    ("", 0, "empty"),
    ('score("a") >= 0.5 )', 18, "unexpected ')'"),
    ('score("a) >= 1', 6, "not closed"),
    ("training_compute >= 1e", 21, "unexpected 'e' after the number 1"),
    ("training_compute >= 1__0", 20, "not a number"),
    ("1 > 2", 0, "both sides are numbers"),
    ('score("a") > tokens', 13, "two measured quantities"),
    ('score("a") > 1 and 5', 19, "a number cannot be an operand of 'and'"),
    ('at_least(3, true, false)', 9, "from 1 to 2"),
    ('score(tokens > 1)', 0, "takes one quoted name"),
    ("x = 1", 2, "'=' is not a comparison"),
    ("x > 1", 0, "unknown name 'x'"),
    ('attested("")', 9, "empty name"),
    ("training_compute >= 1e25 # note", 25, "unexpected character '#'"),
])
def test_errors_say_where_and_how_to_fix(text, offset, fragment):
    with pytest.raises(ExprError) as e:
        parse(text)
    assert fragment in str(e.value)
    assert e.value.offset == offset
    assert " — " in str(e.value) and e.value.fix


def test_alert_margins_move_toward_true_and_false():
    c = parse('score("a") >= 0.5').root
    c.set_margin(additive=0.1)
    assert (c.up, c.down) == pytest.approx((0.4, 0.6))
    q = parse("training_compute < 1e25").root
    q.set_margin(factor=4)
    assert (q.up, q.down) == pytest.approx((4e25, 2.5e24))


def test_poisson_binomial_tail():
    assert _tail([0.5, 0.5], 1) == pytest.approx(0.75)
    assert _tail([0.5, 0.5], 2) == pytest.approx(0.25)
    assert _tail([1.0, 0.0, 1.0], 2) == 1.0
    assert _tail([0.2, 0.3, 0.4], 0) == pytest.approx(1.0)


class _Fixed:
    """A judge with fixed comparison probabilities by benchmark name."""

    def __init__(self, probs):
        self.probs = probs

    def compare(self, node):
        p = self.probs.get(node.target.name)
        if p is None:
            return (0.0, 1.0, 0.0, 1.0, 0.0, 1.0)
        return (p, p, p, p, p, p)

    def attested(self, s):
        return s == "yes"

    def flagged(self, b):
        return False


def test_logic_propagates_probability_intervals():
    j = _Fixed({"a": 0.9, "b": 0.2})
    assert parse('score("a") > 0 and score("b") > 0').ev(j)[:2] == pytest.approx((0.18, 0.18))
    assert parse('score("a") > 0 or score("b") > 0').ev(j)[:2] == pytest.approx((0.92, 0.92))
    lo, hi = parse('score("a") > 0 and score("missing") > 0').ev(j)[:2]
    assert (lo, hi) == pytest.approx((0.0, 0.9))
    lo, hi = parse('not score("missing") > 0').ev(j)[:2]
    assert (lo, hi) == (0.0, 1.0)
    assert parse('attested("yes") and not attested("no")').ev(j)[:2] == (1.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='scoretaind_"()<>=!&|,.0123456789e% \n', max_size=40))
def test_parser_never_fails_with_anything_but_expr_error(text):
    try:
        c = parse(text)
    except ExprError as e:
        assert 0 <= e.offset <= len(text)
    else:
        assert c.root.is_bool


def test_tokens_keep_positions():
    toks = tokenize('score("a")>=1')
    assert [(t.kind, t.pos) for t in toks] == [("ident", 0), ("lparen", 5), ("str", 6),
                                               ("rparen", 9), ("op", 10), ("num", 12),
                                               ("end", 13)]
