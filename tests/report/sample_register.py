"""The register the report, dashboard and browser tests share: the bundled public data plus
models whose names are hostile (markup, a path, Markdown table syntax)."""

from __future__ import annotations

from pathlib import Path

from tripwire import ingest
from tripwire.demo import run_demo
from tripwire.register import Register

HOSTILE = "<script>alert(1)</script>"
TRAVERSAL = "../../escaped"
PIPE = "a|b *c* [x](javascript:y)"
POLICIES = ["eu-ai-act-gpai", "ca-sb53"]
"""Two built-in policies keep the tests fast (every model is judged under each)."""
FOCUS = "Llama-3.1-405B"


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def build(folder: Path) -> Register:
    """A fresh register in `folder`: bundled models, results and loss points, plus three
    models with hostile names and a few results each."""
    reg = run_demo(folder, report=False).register
    models = folder / "hostile-models.csv"
    models.write_text(
        "name,organization,release_date,compute\n"
        f"{_csv_field(HOSTILE)},{_csv_field('<b>Evil</b> & Co')},2023-05-01,3e24\n"
        f"{_csv_field(TRAVERSAL)},,2022-01-01,1e23\n"
        f"{_csv_field(PIPE)},,2021-06-01,2e22\n", encoding="utf-8")
    evals = folder / "hostile-evals.csv"
    evals.write_text(
        "model,benchmark,metric,value,samples\n"
        f"{_csv_field(HOSTILE)},mmlu,acc,0.71,14042\n"
        f"{_csv_field(HOSTILE)},arc_challenge,acc_norm,0.62,1172\n"
        f"{_csv_field(TRAVERSAL)},mmlu,acc,0.45,14042\n"
        f"{_csv_field(PIPE)},mmlu,acc,0.30,14042\n", encoding="utf-8")
    for f in (models, evals):
        reg.ingest(ingest.read_file(f))
    return reg
