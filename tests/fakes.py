"""A deterministic embedder for tests that need vectors but not their meaning.

Feed polling, alert plumbing and the like store and index documents; what they check does
not depend on which passage is nearest. `HashEmbedder` gives each word a fixed random
direction (seeded by its hash) and a text the normalised sum of its words', so equal texts
get equal vectors and texts that share words lie closer: enough for the plumbing, and fast
enough for the fast lane. Tests that judge retrieval or answers use the real model.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """The `Embedder` interface over hashed words; 64 dimensions, no model to load."""

    backend = "hash"
    batch_size = 32
    dim = 64

    def __init__(self, model_name: str = "test-hash-embedder") -> None:
        self.model_name = model_name

    @property
    def model_id(self) -> str:
        return f"{self.model_name}|{self.backend}"

    def _vector(self, text: str) -> np.ndarray:
        total = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            total += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        norm = float(np.linalg.norm(total))
        if norm == 0.0:
            total[0], norm = 1.0, 1.0
        return total / norm

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return self._encode(texts)
