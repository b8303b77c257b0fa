"""Two versions of a model compared on every benchmark both have: what changed, what is real.

Gathers both models' results from the register, pairs them by (benchmark, metric, filter),
refuses the pairs that are not comparable (saying why), matches per-sample scores item by item
(sample id and epoch: Inspect stores one score per sample per epoch, lm-eval one per `doc_id`),
runs `tripwire.compare`'s paired or unpaired test on each, and controls the false discovery rate
across all of them (Benjamini-Hochberg). With a policy, it also shows how far each model stands
from every bar the policy draws on a score, and how P(crossed) moved.

Nothing is written: a diff is a view of the evidence, not a determination.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tripwire.compare import Change, benjamini_hochberg, paired_change, unpaired_change
from tripwire.errors import InputError
from tripwire.model import EvalResult, Model
from tripwire.register import Register

__all__ = ["BenchmarkChange", "Diff", "ItemCounts", "baseline_for", "diff_models"]

_Key = tuple[str, str, str | None]


@dataclass
class ItemCounts:
    """How the per-sample scores of one benchmark matched up."""

    a: int
    """Scored items (sample x epoch) of A."""
    b: int
    matched: int
    only_a: int
    """Items scored for A only (not in B's log): counted, never silently dropped."""
    only_b: int
    unscored_a: int = 0
    """Items stored without a numeric score (e.g. an unparseable grade)."""
    unscored_b: int = 0
    clusters: int | None = None


@dataclass
class BenchmarkChange:
    """One benchmark and metric compared between A and B."""

    benchmark: str
    metric: str
    filter: str | None
    higher_is_better: bool
    value_a: float
    value_b: float
    result_a: int | None
    result_b: int | None
    status: str
    """`compared`, `untested` (no uncertainty to test against) or `refused` (not comparable)."""
    reason: str | None = None
    change: Change | None = None
    q_value: float | None = None
    """Benjamini-Hochberg adjusted p-value across every benchmark tested."""
    significant: bool = False
    """Survives the false-discovery control."""
    verdict: str = "no change"
    """`regression`, `improvement`, `no change`, `below min effect`, `untested`, `refused`."""
    items: ItemCounts | None = None
    moved: dict[str, list[str]] | None = None
    """With `items=True`: sample ids whose score fell (`worse`) / rose (`better`), and those
    present in one model only (`only_a`, `only_b`)."""
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        f = f" [{self.filter}]" if self.filter not in (None, "none") else ""
        return f"{self.benchmark} {self.metric}{f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark, "metric": self.metric, "filter": self.filter,
            "higher_is_better": self.higher_is_better, "value_a": self.value_a,
            "value_b": self.value_b, "result_a": self.result_a, "result_b": self.result_b,
            "status": self.status, "reason": self.reason,
            "change": self.change.to_dict() if self.change is not None else None,
            "q_value": self.q_value, "significant": self.significant, "verdict": self.verdict,
            "items": self.items.__dict__ if self.items is not None else None,
            "moved": self.moved, "notes": self.notes,
        }


@dataclass
class Diff:
    """Model B compared with model A (the baseline) on every benchmark both have."""

    model_a: str
    model_b: str
    baseline: str
    """How A was chosen: `given`, `parent` or `family` (the previous release in B's family)."""
    fdr: float
    min_effect: float
    level: float
    rows: list[BenchmarkChange]
    only_a: list[str] = field(default_factory=list)
    """Benchmark/metric pairs only A has results on."""
    only_b: list[str] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def compared(self) -> list[BenchmarkChange]:
        return [r for r in self.rows if r.status == "compared"]

    @property
    def regressions(self) -> list[BenchmarkChange]:
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def improvements(self) -> list[BenchmarkChange]:
        return [r for r in self.rows if r.verdict == "improvement"]

    def gate(self, watch: Sequence[str] = ()) -> tuple[int, str]:
        """CI exit code and reason: 1 a surviving regression (on a watched benchmark when
        `watch` names any), 3 nothing to judge, 0 otherwise."""
        compared = self.compared
        if not compared:
            return 3, (f"{self.model_a} and {self.model_b} share no benchmark with comparable, "
                       "testable scores")
        regs = self.regressions
        if watch:
            watched = set(watch)
            seen = {r.benchmark for r in compared}
            unseen = sorted(watched - seen)
            regs = [r for r in regs if r.benchmark in watched]
            if regs:
                return 1, "regression on " + ", ".join(r.label for r in regs)
            if unseen:
                return 3, ("no comparable, testable scores on watched "
                           + ", ".join(unseen))
            return 0, "no significant regression on " + ", ".join(sorted(watched))
        if regs:
            return 1, "regression on " + ", ".join(r.label for r in regs)
        return 0, f"no significant regression on {len(compared)} compared"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_a": self.model_a, "model_b": self.model_b, "baseline": self.baseline,
            "fdr": self.fdr, "min_effect": self.min_effect, "level": self.level,
            "summary": {"compared": len(self.compared),
                        "regressions": [r.label for r in self.regressions],
                        "improvements": [r.label for r in self.improvements],
                        "refused": sum(r.status == "refused" for r in self.rows),
                        "untested": sum(r.status == "untested" for r in self.rows)},
            "rows": [r.to_dict() for r in self.rows],
            "only_a": self.only_a, "only_b": self.only_b, "policy": self.policy,
            "notes": self.notes,
        }


# ----------------------------------------------------------------------------------- lineage

def baseline_for(reg: Register, model: str, *, models: Sequence[Model] | None = None
                 ) -> tuple[Model, str]:
    """The model a version is compared with when none is named: its `parent` when that is in
    the register, else the latest earlier release in its family. `models` passes the
    register's models when the caller has them (a report asks this for every model)."""
    if models is None:
        m = reg.get_model(model)
        models = reg.models()
    else:
        found = next((x for x in models if x.name == model), None)
        m = found if found is not None else reg.get_model(model)
    by_name = {x.name: x for x in models}
    if m.parent and m.parent in by_name:
        return by_name[m.parent], "parent"
    why = []
    if m.parent:
        why.append(f"its parent {m.parent!r} is not in the register")
    if m.family and m.release_date is not None:
        earlier = [x for x in models if x.family == m.family and x.name != m.name
                   and x.release_date is not None and x.release_date < m.release_date]
        if earlier:
            return max(earlier, key=lambda x: (x.release_date, x.name)), "family"
        why.append(f"no model of family {m.family!r} was released before it")
    elif m.family:
        why.append("it has no release date to find the previous version of its family by")
    else:
        why.append("it has no family")
    if not m.parent:
        why.insert(0, "it has no parent")
    raise InputError(f"nothing to compare {m.name} with: " + "; ".join(why),
                     hint=f"name the model to compare with: tripwire diff OTHER {m.name}")


# ----------------------------------------------------------------------------------- results

def _direction(r: EvalResult, default: bool) -> bool:
    up = (r.extra or {}).get("higher_is_better")
    return up if isinstance(up, bool) else default


def _stamp(r: EvalResult) -> tuple[float, int]:
    return (r.created_at.timestamp() if r.created_at is not None else -math.inf, r.id or 0)


def _latest(results: Iterable[EvalResult], who: str, notes: list[str]) -> dict[_Key, EvalResult]:
    by_key: dict[_Key, list[EvalResult]] = {}
    for r in results:
        by_key.setdefault((r.benchmark, r.metric, r.filter), []).append(r)
    out = {}
    for key, rs in by_key.items():
        out[key] = max(rs, key=_stamp)
        if len(rs) > 1:
            notes.append(f"{who} has {len(rs)} results on {_label(key)}; the newest is compared")
    return out


def _label(key: _Key) -> str:
    b, m, f = key
    return f"{b} {m}" + (f" [{f}]" if f not in (None, "none") else "")


def _not_comparable(ra: EvalResult, rb: EvalResult, a: Model, b: Model) -> str | None:
    """Why two results on the same benchmark and metric cannot be compared, or None."""
    xa, xb = ra.extra or {}, rb.extra or {}
    for key, what in (("n_shot", "few-shot count"), ("task_version", "task version"),
                      ("higher_is_better", "direction"), ("scorer", "scorer"),
                      ("reducer", "epoch reducer")):
        if key in xa and key in xb and xa[key] != xb[key]:
            return f"different {what}: {xa[key]!r} for {a.name}, {xb[key]!r} for {b.name}"
    va_, vb_ = ra.variant or a.variant, rb.variant or b.variant
    if va_ and vb_ and va_ != vb_:
        return f"different variants: {va_} for {a.name}, {vb_} for {b.name}"
    lo, hi = sorted((abs(ra.value), abs(rb.value)))
    if lo <= 1.0 < hi and hi >= 20.0 * max(lo, 1e-12) and min(ra.value, rb.value) >= 0:
        return (f"different scales: {ra.value:.4g} for {a.name}, {rb.value:.4g} for {b.name} "
                "(a fraction and a percentage?)")
    return None


def _natural(s: str) -> tuple[int, int, str]:
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def _cluster_fn(cluster_by: str | None,
                clusters: Mapping[tuple[str | None, str], str] | None) -> Any:
    """bench, sample id -> cluster label, or None when no clusters are declared. A declared
    cluster (per benchmark, then for every benchmark) wins over the regular expression; an item
    with neither is a cluster of its own."""
    if cluster_by is None and not clusters:
        return None
    pat = None
    if cluster_by is not None:
        try:
            pat = re.compile(cluster_by)
        except re.error as e:
            raise InputError(f"--cluster-by {cluster_by!r} is not a regular expression: {e}"
                             ) from None
    table = dict(clusters or {})

    def cluster(bench: str, sid: str) -> str:
        got = table.get((bench, sid))
        if got is None:
            got = table.get((None, sid))
        if got is not None:
            return "=" + got
        if pat is not None:
            m = pat.search(sid)
            if m is not None:
                return "~" + (m.group(1) if pat.groups else m.group(0))
        return "#" + sid

    return cluster


_Samples = tuple[Sequence[str], Sequence[int], Sequence[float | None]]


def _match(sa: _Samples, sb: _Samples) -> tuple[Any, Any, list[tuple[str, int]], ItemCounts,
                                                 list[tuple[str, int]], list[tuple[str, int]],
                                                 list[int]]:
    """Items scored for both (sample id, epoch), their scores as arrays, the counts, the keys
    scored for one side only, and how many keys each side stores twice."""
    import numpy as np

    (ids_a, ep_a, sc_a), (ids_b, ep_b, sc_b) = sa, sb
    xa, xb = np.array(sc_a, dtype=float), np.array(sc_b, dtype=float)  # None -> NaN
    fa, fb = np.isfinite(xa), np.isfinite(xb)
    n = len(ids_a)
    if (ids_a == ids_b and ep_a == ep_b and ep_a.count(ep_a[0]) == n
            and len(set(ids_a)) == n):
        # The usual case: both logs hold the same items in the same order, once each.
        both = fa & fb
        keys = list(zip(ids_a, ep_a, strict=True))
        if bool(both.all()):
            common = keys
        else:
            common = [k for k, ok in zip(keys, both.tolist(), strict=True) if ok]
        only_a: list[tuple[str, int]] = []
        only_b: list[tuple[str, int]] = []
        if not (bool(fa.all()) and bool(fb.all())):
            pairs = list(zip(keys, fa.tolist(), fb.tolist(), strict=True))
            only_a = [k for k, x, y in pairs if x and not y]
            only_b = [k for k, x, y in pairs if y and not x]
        counts = ItemCounts(a=int(fa.sum()), b=int(fb.sum()), matched=len(common),
                            only_a=len(only_a), only_b=len(only_b),
                            unscored_a=int(n - fa.sum()), unscored_b=int(n - fb.sum()))
        return xa[both], xb[both], common, counts, only_a, only_b, [0, 0]

    def scored(ids: Sequence[str], eps: Sequence[int], x: Any, ok: Any
               ) -> tuple[dict[tuple[str, int], float], int, int]:
        keys = list(zip(ids, eps, strict=True))
        every = dict(zip(keys, x.tolist(), strict=True))
        good = {k: v for k, v, f in zip(keys, x.tolist(), ok.tolist(), strict=True) if f}
        return good, len(keys) - len(every), len(every) - len({k for k in every if k in good})

    da, dup_a, unscored_a = scored(ids_a, ep_a, xa, fa)
    db, dup_b, unscored_b = scored(ids_b, ep_b, xb, fb)
    common = [k for k in da if k in db]
    only_a = [k for k in da if k not in db]
    only_b = [k for k in db if k not in da]
    counts = ItemCounts(a=len(da), b=len(db), matched=len(common), only_a=len(only_a),
                        only_b=len(only_b), unscored_a=unscored_a, unscored_b=unscored_b)
    a = np.fromiter((da[k] for k in common), float, len(common))
    b = np.fromiter((db[k] for k in common), float, len(common))
    return a, b, common, counts, only_a, only_b, [dup_a, dup_b]


def _paired(row: BenchmarkChange, sa: _Samples, sb: _Samples, *, level: float, items: bool,
            cluster: Any, reducer: Any = None) -> None:
    """Match two results' per-sample scores by (sample id, epoch) and test the change."""
    a, b, common, counts, only_a, only_b, dups = _match(sa, sb)
    row.items = counts
    for who, dup in zip((row.result_a, row.result_b), dups, strict=True):
        if dup:
            row.notes.append(f"result {who} stores {dup} items twice; the last score is used")
    if counts.only_a or counts.only_b:
        row.notes.append(f"{counts.only_a} items scored for A only and {counts.only_b} for B "
                         "only are not in the paired test")
    if not common:
        row.status, row.verdict = "refused", "refused"
        row.reason = (f"no items in common ({counts.a} scored for A, {counts.b} for B): "
                      "different datasets or sample ids")
        return
    labels = None
    if cluster is not None:
        labels = [cluster(row.benchmark, k[0]) for k in common]
    elif common[0][1] != common[-1][1] or any(k[1] != common[0][1] for k in common):
        labels = [k[0] for k in common]  # several epochs of a sample: one cluster
        if reducer not in (None, "mean"):
            row.notes.append(f"the stored score reduces epochs by {reducer!r}; the paired test "
                             "compares the mean over epochs, item by item")
    row.change = paired_change(a, b, clusters=labels, level=level)
    counts.clusters = row.change.clusters
    if items:
        per: dict[str, float] = {}
        d = b - a
        for k, x in zip(common, d.tolist(), strict=True):
            if x != 0:
                per[k[0]] = per.get(k[0], 0.0) + x
        good = 1.0 if row.higher_is_better else -1.0
        row.moved = {
            "worse": sorted((s for s, x in per.items() if x * good < 0), key=_natural),
            "better": sorted((s for s, x in per.items() if x * good > 0), key=_natural),
            "only_a": sorted({k[0] for k in only_a}, key=_natural),
            "only_b": sorted({k[0] for k in only_b}, key=_natural),
        }


def diff_models(reg: Register, model_b: str, model_a: str | None = None, *,
                fdr: float = 0.05, min_effect: float = 0.0, level: float = 0.95,
                items: bool = False, cluster_by: str | None = None,
                clusters: Mapping[tuple[str | None, str], str] | None = None,
                benchmarks: Sequence[str] | None = None,
                policy: str | Path | Any | None = None,
                mapping: Mapping[str, str] | None = None) -> Diff:
    """Compare `model_b` with `model_a` (default: its parent or the previous release in its
    family) on every benchmark and metric both have.

    Per pair of results: a paired test when both stored per-sample scores (matched by sample
    id and epoch; clustered by sample when there are several epochs, or by `cluster_by`, a
    regular expression whose first group (or whole match) of the sample id names the cluster,
    or by `clusters`, declared labels keyed by (benchmark or None for every benchmark,
    sample id)),
    else an unpaired test from the stderrs or sample counts. Benjamini-Hochberg at `fdr` across
    all tested pairs; a surviving change smaller than `min_effect` (in the metric's units) is
    reported as such, not as a regression or improvement.
    """
    if not (0.0 < fdr < 1.0):
        raise InputError(f"--fdr must be between 0 and 1, not {fdr:g}")
    if not (min_effect >= 0.0 and math.isfinite(min_effect)):
        raise InputError(f"--min-effect must be a non-negative number, not {min_effect:g}")
    cluster = _cluster_fn(cluster_by, clusters)
    b = reg.get_model(model_b)
    if model_a is None:
        a, how = baseline_for(reg, b.name)
    else:
        a, how = reg.get_model(model_a), "given"
    if a.name == b.name:
        raise InputError(f"{model_b!r} and {model_a!r} are the same model ({a.name})",
                         hint="name two different models")
    notes: list[str] = []
    res_a = _latest(reg.results(model=a.name), a.name, notes)
    res_b = _latest(reg.results(model=b.name), b.name, notes)
    if benchmarks:
        wanted = set(benchmarks)
        res_a = {k: r for k, r in res_a.items() if k[0] in wanted}
        res_b = {k: r for k, r in res_b.items() if k[0] in wanted}
    meta = {bm.id: bm for bm in reg.benchmarks()}
    rows: list[BenchmarkChange] = []
    shared = sorted(set(res_a) & set(res_b), key=lambda k: (k[0], k[1], k[2] or ""))
    bench_a = {k[0] for k in res_a}
    bench_b = {k[0] for k in res_b}
    # A benchmark both have, but under no common metric: refused, saying which metrics.
    for bench in sorted(bench_a & bench_b):
        if any(k[0] == bench for k in shared):
            continue
        ma = sorted({_label(k)[len(bench) + 1:] for k in res_a if k[0] == bench})
        mb = sorted({_label(k)[len(bench) + 1:] for k in res_b if k[0] == bench})
        ra = next(r for k, r in res_a.items() if k[0] == bench)
        rb = next(r for k, r in res_b.items() if k[0] == bench)
        hib = meta[bench].higher_is_better if bench in meta else True
        rows.append(BenchmarkChange(
            benchmark=bench, metric=" / ".join(ma), filter=None, higher_is_better=hib,
            value_a=ra.value, value_b=rb.value, result_a=None, result_b=None, status="refused",
            verdict="refused",
            reason=(f"different metrics: {', '.join(ma)} for {a.name}; {', '.join(mb)} for "
                    f"{b.name}")))
    refused = {r.benchmark for r in rows}  # shared benchmarks with no shared metric
    only_a = [_label(k) for k in sorted(set(res_a) - set(res_b), key=str) if k[0] not in refused]
    only_b = [_label(k) for k in sorted(set(res_b) - set(res_a), key=str) if k[0] not in refused]
    ids = [r.id for k in shared for r in (res_a[k], res_b[k]) if r.id is not None]
    samples = reg.sample_scores(ids) if ids else {}
    for key in shared:
        ra, rb = res_a[key], res_b[key]
        bench, metric, filt = key
        default = meta[bench].higher_is_better if bench in meta else True
        row = BenchmarkChange(
            benchmark=bench, metric=metric, filter=filt,
            higher_is_better=_direction(rb, _direction(ra, default)),
            value_a=ra.value, value_b=rb.value, result_a=ra.id, result_b=rb.id,
            status="compared")
        rows.append(row)
        why = _not_comparable(ra, rb, a, b)
        if why is not None:
            row.status, row.verdict, row.reason = "refused", "refused", why
            continue
        sa_, sb_ = samples.get(ra.id or -1), samples.get(rb.id or -1)
        if sa_ is not None and sb_ is not None:
            _paired(row, sa_, sb_, level=level, items=items, cluster=cluster,
                    reducer=(ra.extra or {}).get("reducer"))
            if row.status == "refused":
                continue
        else:
            have = [n for n, s in ((a.name, sa_), (b.name, sb_)) if s is not None]
            if have:
                row.notes.append(f"per-sample scores only for {have[0]}: unpaired test")
            row.change = unpaired_change(ra.value, rb.value, stderr_a=ra.stderr,
                                         stderr_b=rb.stderr, n_a=ra.samples, n_b=rb.samples,
                                         level=level)
        assert row.change is not None
        if row.change.p_value is None:
            row.status, row.verdict = "untested", "untested"
            row.reason = row.change.note or "no uncertainty to test the change against"
        elif row.change.note:
            row.notes.append(row.change.note)
    tested = [r for r in rows if r.status == "compared"]
    adjusted, rejected = benjamini_hochberg(
        [r.change.p_value if r.change is not None else None for r in tested], fdr)
    for r, q, rej in zip(tested, adjusted, rejected, strict=True):
        r.q_value, r.significant = q, rej
        assert r.change is not None
        good = r.change.delta if r.higher_is_better else -r.change.delta
        if not rej or r.change.delta == 0:
            r.verdict = "no change"
        elif abs(r.change.delta) < min_effect:
            r.verdict = "below min effect"
        else:
            r.verdict = "improvement" if good > 0 else "regression"
    rows.sort(key=lambda r: (r.benchmark, r.metric, r.filter or ""))
    out = Diff(model_a=a.name, model_b=b.name, baseline=how, fdr=fdr, min_effect=min_effect,
               level=level, rows=rows, only_a=only_a, only_b=only_b, notes=notes)
    if policy is not None:
        out.policy = policy_distances(reg, a, b, policy, mapping=mapping)
    return out


# ------------------------------------------------------------------------------------ policy

def policy_distances(reg: Register, a: Model, b: Model, policy: str | Path | Any, *,
                     mapping: Mapping[str, str] | None = None) -> dict[str, Any]:
    """For every threshold of `policy`: P(crossed) for A and for B and its change, and for each
    bar the threshold draws on a score, each model's value and its distance to the bar
    (`to_go`: how much further the score must move to cross it; negative once beyond).

    The values are those the policy judges (the best result on the benchmark), as in `assess`;
    nothing is recorded.
    """
    from tripwire.assess import gather_evidence, resolve_policy
    from tripwire.policy import evaluate_policy
    from tripwire.policy.expr import Score

    pol = resolve_policy(policy)
    mapping = dict(mapping or {})
    ev_a, warn_a = gather_evidence(reg, a.name, pol, mapping=mapping, anomalies=False)
    ev_b, warn_b = gather_evidence(reg, b.name, pol, mapping=mapping, anomalies=False)
    det_a, det_b = evaluate_policy(pol, ev_a), evaluate_policy(pol, ev_b)
    thresholds = []
    for t, sa_, sb_ in zip(pol.thresholds, det_a.thresholds, det_b.thresholds, strict=True):
        bars = []
        for node in t.condition.comparisons:
            if not isinstance(node.target, Score):
                continue
            bench = pol.benchmark_for(node.target.name, mapping)
            bar = node.threshold.value
            entry: dict[str, Any] = {"evidence": node.target.name, "benchmark": bench,
                                     "op": node.op, "bar": bar}
            for side, ev in (("a", ev_a), ("b", ev_b)):
                got = ev.best(bench, t.pre_mitigation) if bench is not None else "none"
                value = None if isinstance(got, str) else got[0].value
                entry[f"value_{side}"] = value
                if value is None or math.isnan(bar):
                    entry[f"to_go_{side}"] = None
                else:
                    entry[f"to_go_{side}"] = (bar - value if node.op in (">=", ">")
                                              else value - bar)
            if entry["to_go_a"] is not None and entry["to_go_b"] is not None:
                entry["closer_by"] = entry["to_go_a"] - entry["to_go_b"]
            else:
                entry["closer_by"] = None
            bars.append(entry)
        pa, pb = sa_.probability, sb_.probability
        thresholds.append({
            "threshold": t.id, "level": t.level, "state_a": sa_.state, "state_b": sb_.state,
            "p_a": pa, "p_b": pb,
            "p_change": pb - pa if pa is not None and pb is not None else None,
            "bars": bars})
    warnings = list(dict.fromkeys([str(w) for w in pol.warnings] + warn_a + warn_b))
    return {"policy": pol.name, "version": pol.version, "level_a": det_a.level,
            "level_b": det_b.level, "thresholds": thresholds, "warnings": warnings}
