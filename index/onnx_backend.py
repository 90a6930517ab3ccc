"""ONNX Runtime backends for sentence-transformers (`onnx`, `onnx-int8`), built offline.

Needs the `onnx` extra (optimum-onnx with onnxruntime). The ONNX graph is exported from the
local model files; the int8 variant is quantised once into a cache folder beside a copy of
them and reused afterwards. Nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from sectorbot.index.errors import SearchIndexError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

CACHE = Path.home() / ".cache" / "sectorbot" / "onnx"


def load_onnx_model(model_path: str, backend: str) -> SentenceTransformer:
    try:
        import onnxruntime  # noqa: F401
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SearchIndexError(
            f"SECTORBOT_EMBEDDING_BACKEND={backend} needs the onnx extra: in the checkout, "
            ".venv/bin/pip install -e '.[onnx]'"
        ) from None
    if backend == "onnx":
        return SentenceTransformer(model_path, device="cpu", backend="onnx")
    folder = CACHE / Path(model_path).name
    found = sorted(folder.glob("onnx/model_*int8_avx2.onnx"))
    if not found:
        from sentence_transformers import export_dynamic_quantized_onnx_model

        shutil.copytree(model_path, folder, dirs_exist_ok=True)
        model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(model, "avx2", str(folder))
        found = sorted(folder.glob("onnx/model_*int8_avx2.onnx"))
    # sentence-transformers takes the file name relative to the model folder.
    file_name = str(found[0].relative_to(folder))
    return SentenceTransformer(
        str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": file_name}
    )
