"""Policies as data: parse and validate policy files, evaluate their conditions on evidence.

Pure: no storage. `tripwire.assess` applies a policy to the register's evidence.

    from tripwire.policy import load_policy, evaluate_policy, Evidence
    policy = load_policy("eu-ai-act-gpai")          # a built-in name or a file path
    det = evaluate_policy(policy, Evidence(model=m, results=rs))

The names below are loaded from their modules on first use (`tripwire.lazy`): reading a policy
file does not import the evaluator.
"""

import typing as _typing

from tripwire.lazy import exports as _exports

if _typing.TYPE_CHECKING:
    from tripwire.policy.evaluate import (
        ESTIMATE_SIGMA_LN,
        Evidence,
        EvidenceJudge,
        evaluate_policy,
        result_distribution,
    )
    from tripwire.policy.expr import Condition, ExprError, parse
    from tripwire.policy.loader import (
        Issue,
        LoadedPolicy,
        builtin_names,
        builtin_text,
        check_text,
        compile_policy,
        load_policy,
    )
    from tripwire.policy.schema import ACTIONS, STATES, Policy, policy_json_schema
    from tripwire.policy.testing import PolicyTestRun, run_all_builtin_tests, run_tests

_LAZY: dict[str, str] = {
    **dict.fromkeys(("ESTIMATE_SIGMA_LN", "Evidence", "EvidenceJudge", "evaluate_policy",
                     "result_distribution"), "tripwire.policy.evaluate"),
    **dict.fromkeys(("Condition", "ExprError", "parse"), "tripwire.policy.expr"),
    **dict.fromkeys(("Issue", "LoadedPolicy", "builtin_names", "builtin_text", "check_text",
                     "compile_policy", "load_policy"), "tripwire.policy.loader"),
    **dict.fromkeys(("ACTIONS", "STATES", "Policy", "policy_json_schema"),
                    "tripwire.policy.schema"),
    **dict.fromkeys(("PolicyTestRun", "run_all_builtin_tests", "run_tests"),
                    "tripwire.policy.testing"),
}
__getattr__, __dir__ = _exports(__name__, _LAZY)

__all__ = [
    "ACTIONS",
    "ESTIMATE_SIGMA_LN",
    "STATES",
    "Condition",
    "Evidence",
    "EvidenceJudge",
    "ExprError",
    "Issue",
    "LoadedPolicy",
    "Policy",
    "PolicyTestRun",
    "builtin_names",
    "builtin_text",
    "check_text",
    "compile_policy",
    "evaluate_policy",
    "load_policy",
    "parse",
    "policy_json_schema",
    "result_distribution",
    "run_all_builtin_tests",
    "run_tests",
]
