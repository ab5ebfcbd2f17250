"""A sentence-transformers BERT text encoder (e.g. all-MiniLM-L6-v2) run in NumPy: the search path
encodes a query without importing torch (a second and a half of every cold `tessera search`).

It reads the same files `SentenceEncoder` loads (config.json, model.safetensors, tokenizer.json,
the pooling config) and computes the same function: BERT, mean pooling over real tokens,
L2 normalisation. tests/core/test_bert_numpy.py holds it to the torch encoder's vectors within
1e-4 cosine. Models of another architecture or pooling are refused (`supports`); the caller falls
back to `SentenceEncoder`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tessera.core.encoders import l2_normalise
from tessera.core.encoders.hashing import weights_revision


def supports(path: str | Path) -> bool:
    """True for a local sentence-transformers folder holding a BERT with mean pooling in safetensors."""
    root = Path(path)
    try:
        config = json.loads((root / "config.json").read_text())
        pooling = json.loads((root / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and pooling.get("pooling_mode_mean_tokens") is True
        and not any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
        and (root / "model.safetensors").is_file()
        and (root / "tokenizer.json").is_file()
    )


class NumpySentenceEncoder:
    modality = "text"
    dtype = "float32"

    def __init__(self, model_id: str, path: str, batch_size: int = 32) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(path)
        if not supports(root):
            raise ValueError(f"{path}: not a BERT sentence-transformers folder with mean pooling; use SentenceEncoder")
        self.model_id, self.revision = model_id, weights_revision(path)
        self.config = json.loads((root / "config.json").read_text())
        self.dim = int(self.config["hidden_size"])
        w = {k.removeprefix("bert."): v for k, v in load_file(str(root / "model.safetensors")).items()}
        # dense weights transposed and contiguous, once, and query/key/value side by side: each
        # projection is one BLAS call on the rows (the query path is a few tokens: calls dominate)
        for i in range(int(self.config["num_hidden_layers"])):
            p = f"encoder.layer.{i}.attention.self."
            w[f"{p}qkv.weight"] = np.concatenate([w.pop(f"{p}{m}.weight") for m in ("query", "key", "value")]).T.copy()
            w[f"{p}qkv.bias"] = np.concatenate([w.pop(f"{p}{m}.bias") for m in ("query", "key", "value")])
        self._w: dict[str, np.ndarray] = {k: np.ascontiguousarray(v.T) if k.endswith("dense.weight") else v for k, v in w.items()}
        st = root / "sentence_bert_config.json"
        max_len = int(json.loads(st.read_text()).get("max_seq_length", 512)) if st.is_file() else 512
        self._tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tok.enable_truncation(max_length=min(max_len, int(self.config["max_position_embeddings"])))
        self._tok.enable_padding(pad_id=int(self.config.get("pad_token_id", 0)))
        self._batch_size = batch_size

    def encode(self, items: list[Any]) -> np.ndarray:
        out = [self._encode([str(t) for t in items[i : i + self._batch_size]]) for i in range(0, len(items), self._batch_size)]
        return l2_normalise(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc], dtype=np.int64)
        w, eps = self._w, float(self.config["layer_norm_eps"])
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]][None] + w["embeddings.token_type_embeddings.weight"][types]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        heads = int(self.config["num_attention_heads"])
        bias = (1.0 - mask)[:, None, None, :] * np.float32(np.finfo(np.float32).min)
        for i in range(int(self.config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            x = self._layer(x, p, heads, bias, eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled.astype(np.float32)

    def _layer(self, x: np.ndarray, p: str, heads: int, bias: np.ndarray, eps: float) -> np.ndarray:
        w = self._w
        b, n, d = x.shape
        hd = d // heads

        def proj(name: str, v: np.ndarray) -> np.ndarray:
            out = v.reshape(-1, v.shape[-1]) @ w[f"{p}{name}.weight"] + w[f"{p}{name}.bias"]
            return out.reshape(*v.shape[:-1], -1)

        def split(v: np.ndarray) -> np.ndarray:
            return v.reshape(b, n, heads, hd).transpose(0, 2, 1, 3)

        q, k, v = (split(part) for part in np.split(proj("attention.self.qkv", x), 3, axis=-1))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
        scores -= scores.max(-1, keepdims=True)
        attn = np.exp(scores)
        attn /= attn.sum(-1, keepdims=True)
        ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
        x = _layer_norm(x + proj("attention.output.dense", ctx), w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"], eps)
        h = _gelu(proj("intermediate.dense", x))
        return _layer_norm(x + proj("output.dense", h), w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], eps)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x), with erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)."""
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)
