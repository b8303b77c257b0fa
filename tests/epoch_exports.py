"""Rows of Epoch AI's Frontier AI Models and Large-scale AI Models exports, for tests.

Each table has the export's real header (every column, in order) and a few rows of real public
values copied from a published copy of the export; cells not shown (free-text notes, abstracts,
author lists) are left blank. Only the notable-models export is kept whole in ../shared/data.
"""

from __future__ import annotations

import csv
import io

FRONTIER_SOURCE = ("Epoch AI, Frontier AI Models export (frontier_ai_models.csv), as published in "
                   "github.com/vladchituc/wrights-law-in-AI @ c80f7ffff5236371c970c1a90d1538157b91"
                   "c605, data/frontier_ai_models.csv")
FRONTIER_HEADER = (
    "Model,Publication date,Organization,Training compute (FLOP),Training compute notes,Domain,"
    "Task,Link,Parameters,Parameters notes,Authors,Notability criteria,Notability criteria notes,"
    "Model accessibility,Citations,Reference,Training dataset,Training dataset notes,"
    "Dataset size notes,Epochs,Training time (hours),Training time notes,Training hardware,"
    "Compute cost notes,Confidence,Abstract,Country (of organization),Base model,"
    "Finetune compute (FLOP),Finetune compute notes,Hardware quantity,"
    "Hardware utilization (MFU),Training data center,Batch size,Batch size notes,"
    "Training chip-hours,Training code accessibility,Accessibility notes,"
    "Training compute cost (2023 USD),Training dataset size,Utilization notes,"
    "Estimated over 1e25 FLOP,Power per GPU,Base model compute,API prices,"
    "Inference code accessibility,Numerical format,Frontier model,Training power draw (W),"
    "FLOP/$,Hardware release date,Training compute estimation method,"
    "Post-training compute (FLOP),Post-training compute notes,Model versions (benchmarks),"
    "Maybe over 1e25 FLOP,Hardware utilization (HFU),Training compute cost (cloud),"
    "Training compute cost (upfront),Training dataset size (total),Open model weights?"
).split(",")
FRONTIER_ROWS = [
    {"Model": "Grok 4", "Publication date": "2025-07-09", "Organization": "xAI",
     "Training compute (FLOP)": "5.0000000000001e+26", "Parameters": "3000000000000.0",
     "Model accessibility": "API access", "Confidence": "Speculative",
     "Country (of organization)": "United States of America", "Hardware quantity": "200000.0",
     "Training compute cost (2023 USD)": "387842678.08636147",
     "Estimated over 1e25 FLOP": "True", "Frontier model": "True",
     "Training compute estimation method": "Comparison with other models",
     "Open model weights?": "No"},
    {"Model": "Llama 4 Behemoth (preview)", "Publication date": "2025-04-05",
     "Organization": "Meta AI", "Training compute (FLOP)": "5.18400000000001e+25",
     "Parameters": "2000000000000.0", "Training hardware": "NVIDIA H100 SXM5 80GB",
     "Confidence": "Likely", "Hardware quantity": "32000.0",
     "Training compute cost (2023 USD)": "44588963.624007165",
     "Estimated over 1e25 FLOP": "True", "Frontier model": "True",
     "Training compute estimation method": "Operation counting",
     "Training dataset size (total)": "30000000000000", "Open model weights?": "No"},
    {"Model": "GPT-4o (Mar 2025)", "Publication date": "2025-03-27", "Organization": "OpenAI",
     "Confidence": "Speculative", "Base model": "GPT-4o (Jan 2025)", "FLOP/$": "NaN",
     "Frontier model": "True", "Training compute estimation method": "Benchmarks",
     "Open model weights?": "No"},
    {"Model": "Llama Nemotron Ultra 253B", "Publication date": "2025-03-18",
     "Organization": "NVIDIA", "Training compute (FLOP)": "3.911001e+25",
     "Parameters": "253000000000.0", "Confidence": "Likely", "Base model": "Llama 3.1-405B",
     "Finetune compute (FLOP)": "1.114817000000001e+24"},
]

LARGE_SCALE_SOURCE = ("Epoch AI, Large-scale AI Models export (large_scale_ai_models.csv, mid "
                      "2024), as published in github.com/IyngkarranKumar/compute_thresholds_public"
                      " @ f243d04f129850aec765130aa75a19c80b8efc06, data/large_scale_ai_models.csv")
LARGE_SCALE_HEADER = (
    "System,Domain,Task,Organization,Authors,Publication date,Reference,Link,Parameters,"
    "Parameters notes,Training compute (FLOP),Training compute notes,Training dataset,"
    "Training dataset size (datapoints),Dataset size notes,Abstract,Confidence,"
    "Model accessibility,Code accessibility,Accessibility notes,Country (from Organization),"
    "Organization categorization (from Organization),Training dataset notes,"
    "Dataset accessibility,Training hardware,Finetune compute notes,Hardware quantity,Citations"
).split(",")
LARGE_SCALE_ROWS = [
    {"System": "ESM3 (98B)", "Domain": "Biology", "Task": "Protein generation",
     "Organization": "EvolutionaryScale,UC Berkeley", "Publication date": "2024-06-25",
     "Parameters": "98000000000.0", "Training compute (FLOP)": "1.07e+24",
     "Training dataset size (datapoints)": "771000000000.0", "Confidence": "Confident"},
    {"System": "GLM-4 (0520)", "Domain": "Language", "Organization": "Zhipu AI",
     "Publication date": "2024-06-18",
     "Training dataset size (datapoints)": "10000000000000.0", "Confidence": "Likely"},
    {"System": "GLM-4V-9B", "Domain": "Language,Multimodal,Vision",
     "Organization": "Zhipu AI,Tsinghua University", "Publication date": "2024-06-18",
     "Parameters": "9000000000.0", "Training compute (FLOP)": "5.4e+23",
     "Training dataset size (datapoints)": "10000000000000.0", "Confidence": "Confident"},
    {"System": "DeepSeek-Coder-V2-236B", "Domain": "Language", "Organization": "DeepSeek",
     "Publication date": "2024-06-17", "Parameters": "236000000000.0",
     "Training compute (FLOP)": "1.2852e+24",
     "Training dataset size (datapoints)": "4451000000000.0", "Confidence": "Confident"},
]


def table(header: list[str], rows: list[dict[str, str]]) -> str:
    """The rows as CSV text under the full header (blank where a cell is not given)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({h: r.get(h, "") for h in header})
    return out.getvalue()
