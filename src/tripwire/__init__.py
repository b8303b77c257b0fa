"""tripwire: if-then safety commitments for AI development, as software.

A register of models and evaluation results, scaling-law fits, capability forecasts, a policy
engine that decides levels and gates actions, and a tamper-evident record of every decision.

`import tripwire` is cheap: the public names below are loaded on first use (module
`__getattr__`), so a command that never fits a law never imports SciPy or pandas, and one that
never opens a register never imports SQLAlchemy.
"""

import typing as _typing

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
from tripwire.lazy import exports as _exports

if _typing.TYPE_CHECKING:
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

_LAZY: dict[str, str] = {
    "ChinchillaLaw": "tripwire.fit",
    "ComputeLaw": "tripwire.fit",
    "CapabilityCurve": "tripwire.forecast",
    "TimeTrend": "tripwire.forecast",
    "crossing_probability": "tripwire.forecast",
    "load_policy": "tripwire.policy",
    "Register": "tripwire.register",
    "open_register": "tripwire.register",
    **dict.fromkeys(
        ("Attestation", "Benchmark", "Determination", "EvalResult", "EvidenceRef",
         "LossObservation", "Model", "SampleScore", "SourceFile", "ThresholdState", "Variant"),
        "tripwire.model",
    ),
}


__getattr__, __dir__ = _exports(__name__, _LAZY)

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
