"""ONNX Runtime backends for sentence-transformers (`onnx`, `onnx-int8`), built offline.

Needs the `onnx` extra. The int8 model is exported once from the local model files into a
cache folder beside them and reused afterwards; nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from index.errors import IndexError_


def onnx_kwargs(model_path: str, backend: str) -> dict[str, Any]:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise IndexError_(
            f"SECTORBOT_EMBEDDING_BACKEND={backend} needs the onnx extra: "
            "pip install 'sectorbot[onnx]'"
        ) from None
    if backend == "onnx":
        return {"backend": "onnx"}
    return {"backend": "onnx", "model_kwargs": {"file_name": _int8_file(model_path)}}


def _int8_file(model_path: str) -> str:
    """Quantise the model to int8 once, in a writable copy of the model folder."""
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    source = Path(model_path)
    target = Path.home() / ".cache" / "sectorbot" / "onnx" / source.name
    name = "onnx/model_qint8_avx2.onnx"
    if not (target / name).exists():
        shutil.copytree(source, target, dirs_exist_ok=True)
        model = SentenceTransformer(str(target), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(model, "avx2", str(target))
    return str(target / name)
