"""tripwire: if-then safety commitments for AI development, as software.

A register of models and evaluation results, scaling-law fits, capability forecasts, a policy
engine that decides levels and gates actions, and a tamper-evident record of every decision.
"""

from tripwire.errors import (
    Blocked,
    ConflictError,
    InputError,
    InsufficientEvidence,
    IntegrityError,
    PolicyError,
    RegisterError,
    TripwireError,
)
from tripwire.fit import ChinchillaLaw, ComputeLaw
from tripwire.forecast import CapabilityCurve, TimeTrend, crossing_probability
from tripwire.model import (
    Attestation,
    Benchmark,
    Determination,
    EvalResult,
    EvidenceRef,
    LossObservation,
    Model,
    SampleScore,
    SourceFile,
    ThresholdState,
    Variant,
)
from tripwire.policy import load_policy
from tripwire.register import Register, open_register

__version__ = "0.1.0"

__all__ = [
    "CapabilityCurve",
    "ChinchillaLaw",
    "ComputeLaw",
    "Register",
    "TimeTrend",
    "crossing_probability",
    "load_policy",
    "open_register",
    "Attestation",
    "Benchmark",
    "Blocked",
    "ConflictError",
    "Determination",
    "EvalResult",
    "EvidenceRef",
    "InputError",
    "InsufficientEvidence",
    "IntegrityError",
    "LossObservation",
    "Model",
    "PolicyError",
    "RegisterError",
    "SampleScore",
    "SourceFile",
    "ThresholdState",
    "TripwireError",
    "Variant",
    "__version__",
]
