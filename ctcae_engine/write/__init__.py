"""Outputs that flow into submissions: ADaM-style datasets from the graded frames (adam), and their writers:
Parquet, SAS XPT v5 (xpt), CDISC Dataset-JSON v1.1 (dataset_json); tables as RTF (rtf). See docs/adam_outputs.md.

Imports only ``read`` and the standard scientific stack; ``run`` calls it for the run folder and the ``grade`` command.
"""

from ctcae_engine.write.adam import LABELS, to_adae, to_adeg, to_adlb, to_advs
from ctcae_engine.write.formats import write_dataset

__all__ = ["LABELS", "to_adae", "to_adeg", "to_adlb", "to_advs", "write_dataset"]
