"""The manifest a stage's GX suite validates: one entry per written row (status, primary
modality, flattened metrics, vector norms). Built chunk by chunk in the workers; no Dagster,
no pandas here, so workers stay light."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def manifest_rows(rows: pa.Table) -> list[dict[str, Any]]:
    """One manifest entry per stage-table row (landed or quarantined): status, primary
    modality, flattened metrics, vector norms. Computed chunk by chunk as rows are written."""
    vec_columns = [c for c in rows.column_names if c.startswith("vec_")]
    out: list[dict[str, Any]] = []
    for r in rows.select([c for c in rows.column_names if c in _MANIFEST_COLUMNS or c.startswith("vec_")]).to_pylist():
        modalities = r.get("modalities") or []
        row: dict[str, Any] = {
            "sample_id": r["sample_id"],
            "batch": r["batch"],
            "status": r["status"],
            "modality": next((m for m in ("video", "audio", "image", "subtitles", "text") if m in modalities), "text"),
            "variant_has_parent": r.get("aug_op") is None or r.get("parent_id") is not None,
            "text_embedded": r.get("search_text") is None or any(r.get(c) is not None for c in vec_columns if c.startswith("vec_text__")),
            **{k: v for k, v in (r.get("metrics") or {}).items() if v is not None},
            "flagged": len(r.get("flags") or []),  # what statistics operators noticed and kept on the row
        }
        for column in vec_columns:
            if r.get(column) is not None and r["status"] == "landed":
                row[f"norm__{column}"] = float(np.linalg.norm(np.asarray(r[column], dtype=np.float64)))
        out.append(row)
    return out


_MANIFEST_COLUMNS = {"sample_id", "batch", "status", "modalities", "aug_op", "parent_id", "search_text", "metrics", "flags"}
