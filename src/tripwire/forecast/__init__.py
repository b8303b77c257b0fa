"""Capability forecasts: benchmark scores against effective compute and against time.

Loss falls smoothly with compute; benchmark scores often do not look smooth ("emergence"), yet
the underlying probabilities usually improve gradually (Schaeffer et al. 2023). tripwire models a
score as a sigmoid in log10 effective compute between the benchmark's chance level and a ceiling,

    score(C) = floor + (ceiling - floor) * sigmoid(k * (log10 C - x0)),

and every model's own deviation from that curve as a normal shift ``u ~ N(0, tau^2)`` of its
latent ability ``k * (log10 C - x0)``. Parameters are fitted by maximum likelihood with binomial
noise when the number of scored samples is known (least squares otherwise); uncertainty comes from
a case bootstrap over models, fitted all at once by a batched Levenberg-Marquardt solver. From
those draws come threshold-crossing forecasts (the distribution of the compute at which a score
is reached, and P(score(C) >= s*) for a planned C), time trends with doubling times (METR,
Kwa et al. 2025), observational-scaling capability factors (Ruan, Maddison & Hashimoto 2024),
backtests and anomaly (sandbagging) flags.

Pure numerics: arrays and DataFrames in, results out; no storage, no files.
Units: compute in FLOP (log10 FLOP inside), dates as `datetime.date`, durations in days.
"""

from tripwire.forecast._anomalies import (
    benchmark_anomalies,
    compute_anomalies,
    factor_anomalies,
    mitigation_gaps,
)
from tripwire.forecast._backtest import Backtest, backtest_compute, backtest_time

# DAYS_PER_YEAR and _bootstrap_weights stay importable as before, outside __all__ (the tests
# and benchmarks use the resampler)
from tripwire.forecast._common import DAYS_PER_YEAR as DAYS_PER_YEAR
from tripwire.forecast._common import QUANTILES
from tripwire.forecast._common import _bootstrap_weights as _bootstrap_weights
from tripwire.forecast._common import _year as year
from tripwire.forecast._compute_trend import (
    COMPUTE_SERIES,
    CrossingBacktest,
    Growth,
    compute_points,
    crossing_backtest,
    crossing_calibration,
    first_over,
    fit_compute_trend,
    growth,
    known_below,
)
from tripwire.forecast._curve import (
    CapabilityCurve,
    CrossingForecast,
    crossing_probability,
    frontier_mask,
)
from tripwire.forecast._factors import CapabilityFactors, FactorRegression
from tripwire.forecast._trend import DateCrossing, TimeTrend

__all__ = [
    "COMPUTE_SERIES",
    "CrossingBacktest",
    "Growth",
    "compute_points",
    "crossing_backtest",
    "crossing_calibration",
    "first_over",
    "fit_compute_trend",
    "growth",
    "known_below",
    "QUANTILES",
    "Backtest",
    "CapabilityCurve",
    "CapabilityFactors",
    "CrossingForecast",
    "DateCrossing",
    "FactorRegression",
    "TimeTrend",
    "backtest_compute",
    "backtest_time",
    "benchmark_anomalies",
    "compute_anomalies",
    "crossing_probability",
    "factor_anomalies",
    "frontier_mask",
    "mitigation_gaps",
    "year",
]
