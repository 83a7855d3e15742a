"""The HTML metrics table (pages of `eagle-kit show`, the demo report): undefined values read
"n/a" with the reason, as in the text tables, never "nan"."""

from __future__ import annotations

import math

import numpy as np

from eagle_kit.report import metrics_table
from eagle_kit.tables import NA, NA_NOTE


def test_undefined_values_read_na_with_the_reason_and_numbers_keep_four_decimals() -> None:
    page = metrics_table(
        {
            "insertion_auc_sensitive": math.nan,
            "deletion_auc_sensitive": np.float32("nan"),
            "insertion_auc": np.float64(0.123456),
            "deletion_auc": 0.5,
            "n_evaluations": 332,
            "note": "<b>",
        }
    )
    assert "nan" not in page.lower().replace(NA_NOTE.lower(), "")
    assert page.count(f">{NA}</span>") == 2 and NA_NOTE.split(":")[0] in page
    assert ">0.1235<" in page and ">0.5000<" in page and ">332<" in page
    assert "&lt;b&gt;" in page and "<b>" not in page  # user text is escaped
