"""PyTorch access to the curated table: what `Tessera.dataset(...)` returns, and `collate`.

Invariants:
- One version of `samples` per dataset: a release's tag, or the latest at construction. Workers
  reopen exactly that version (and the `blobs` version beside it), so an epoch reads one table
  whatever commits land meanwhile, and a model trained on `v3` can be trained on `v3` again.
- An epoch's order is a function of (seed, epoch, rank, world size, workers) only.
- A missing modality is a mask, never a silent zero: each item lists what it has, and `collate`
  pads and returns `mask[modality]` beside the padded tensors.
- Memory is bounded by the read chunk, not by the epoch: rows are read `read_rows` at a time by
  row address (one Lance take, one blob read per chunk); the only per-epoch state is the selected
  row addresses, 8 bytes a row.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from tessera.core.records import MODALITY_ORDER

# what a row of `samples` gives the decoders (vector columns are added on request)
ROW_COLUMNS = ["sample_id", "batch", "modalities", "text", "transcript", "media_image", "media_audio", "media_video",
               "keyframes", "keyframe_times", "segments"]  # fmt: skip
IMAGE_DTYPES = ("uint8", "float32")
VIDEO_MODES = ("keyframes", "clip")


@dataclass(frozen=True, slots=True)
class Decode:
    """How media become tensors (every field has a `Tessera.dataset` keyword of the same name).

    image: CHW, RGB; at `image_size` (shorter side scaled to it, then centre-cropped square; a pair
    (h, w) resizes to exactly that), uint8 or float32 in [0, 1]. Without a size, native size (the
    collate pads to the batch's largest and gives each size).
    audio: mono float32 waveform at the lake's canonical rate (16 kHz); `audio_window_s` cuts the
    first that many seconds (shorter clips are padded by the collate; `audio_lengths` holds the truth).
    video: `video_frames` keyframes spread evenly over the stored keyframes ("keyframes"), or the
    first `video_frames` frames of the canonical video ("clip"), each as an image above.
    text: the caption as a string, or token ids of `tokenizer` (a Hugging Face id or local folder)
    up to `max_tokens`. Segments (cues, transcripts) come with their times.
    """

    modalities: tuple[str, ...] = MODALITY_ORDER
    image_size: int | tuple[int, int] | None = None
    image_dtype: str = "uint8"
    audio_window_s: float | None = None
    video: str = "keyframes"
    video_frames: int = 8
    tokenizer: str | None = None
    max_tokens: int = 128
    vectors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bad := sorted(set(self.modalities) - set(MODALITY_ORDER)):
            raise ValueError(f"modalities: {', '.join(bad)} unknown; choose from {', '.join(MODALITY_ORDER)}")
        if self.image_dtype not in IMAGE_DTYPES:
            raise ValueError(f"image_dtype {self.image_dtype!r}: choose one of {', '.join(IMAGE_DTYPES)}")
        if self.video not in VIDEO_MODES:
            raise ValueError(f"video {self.video!r}: choose one of {', '.join(VIDEO_MODES)}")
        if self.video_frames < 1 or self.max_tokens < 1:
            raise ValueError("video_frames and max_tokens must be at least 1")
        if self.audio_window_s is not None and self.audio_window_s <= 0:
            raise ValueError(f"audio_window_s must be positive (got {self.audio_window_s})")

    def columns(self) -> list[str]:
        return [*ROW_COLUMNS, *self.vectors]

    def refs(self, row: dict[str, Any]) -> list[str]:
        """The blobs this row needs decoded."""
        want = [row.get(f"media_{m}") for m in ("image", "audio") if m in self.modalities]
        if "video" in self.modalities:
            want += _spread(row.get("keyframes") or [], self.video_frames) if self.video == "keyframes" else [row.get("media_video")]
        return [r for r in want if r]


@dataclass(slots=True)
class Selection:
    """The rows a dataset reads: one pinned version of a table (`samples`, or a stage's), a filter,
    their row addresses."""

    lake_uri: str
    table: str
    version: int
    blobs_version: int | None
    where: str
    addresses: np.ndarray = field(repr=False)
    _lake: Any = field(default=None, repr=False)

    def lake(self) -> Any:
        """This process's own lake handle (a handle inherited through fork is never reused)."""
        if self._lake is None or self._lake[0] != os.getpid():
            from tessera.resources.store import Lake

            self._lake = (os.getpid(), Lake(self.lake_uri))
        return self._lake[1]

    def __getstate__(self) -> dict[str, Any]:  # workers reopen the lake; an open handle never travels
        return {k: getattr(self, k) for k in self.__slots__ if k != "_lake"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._lake = None

    def read(self, positions: Sequence[int], decode: Decode) -> list[dict[str, Any]]:
        """Items for these positions, in this order: one take of their rows (address order, for
        locality), one read of the blobs they reference."""
        if not len(positions):
            return []
        lake = self.lake()
        addrs = self.addresses[np.asarray(positions, dtype=np.int64)]
        order = np.argsort(addrs, kind="stable")
        ds = lake.dataset(self.table, self.version)
        rows = ds._take_rows(addrs[order].tolist(), columns=decode.columns()).to_pylist()  # pylance 14: take by address
        by_pos: list[dict[str, Any]] = [{}] * len(rows)
        for i, r in zip(order.tolist(), rows, strict=True):
            by_pos[i] = r
        blobs = lake.read_blobs({ref for r in by_pos for ref in decode.refs(r)}, version=self.blobs_version)
        return [to_item(r, blobs, decode) for r in by_pos]


# -- decoding -----------------------------------------------------------------------------------
def to_item(row: dict[str, Any], blobs: dict[str, bytes], decode: Decode) -> dict[str, Any]:
    """One sample as tensors: a key per requested modality, None where the sample lacks it."""
    has = set(row.get("modalities") or [])
    item: dict[str, Any] = {"sample_id": row["sample_id"], "batch": row["batch"], "modalities": sorted(has, key=MODALITY_ORDER.index), "errors": {}}

    def guarded(modality: str, make: Callable[[], Any]) -> Any:
        """Landed media always decode; a stage's set-aside input may not: None, and the reason."""
        try:
            return make()
        except Exception as exc:  # any decoder failure is this item's, never the epoch's
            item["errors"][modality] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            return None

    if "image" in decode.modalities:
        data = blobs.get(row.get("media_image") or "")
        item["image"] = guarded("image", lambda: image_tensor(data, decode)) if data is not None else None
    if "audio" in decode.modalities:
        data = blobs.get(row.get("media_audio") or "")
        item["audio"] = guarded("audio", lambda: audio_tensor(data, decode)) if data is not None else None
    if "video" in decode.modalities:
        item["video"] = guarded("video", lambda: video_tensor(row, blobs, decode)) if "video" in has else None
    if "text" in decode.modalities:
        text = row.get("text") or None
        item["text"] = tokens(text, decode) if text is not None and decode.tokenizer else text
        item["transcript"] = row.get("transcript")
        item["segments"] = [dict(s) for s in row.get("segments") or []]
    for column in decode.vectors:
        v = row.get(column)
        item[column] = torch.tensor(v, dtype=torch.float32) if v is not None else None
    return item


def image_tensor(data: bytes, decode: Decode) -> torch.Tensor:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        size = decode.image_size
        if size is not None and im.format == "JPEG":  # libjpeg scales by 1/2…1/8 while decoding: decode no larger than needed
            im.draft("RGB", _cover(im.size, size))
        frame = im.convert("RGB")
    if size is not None:
        frame = _resize(frame, size)
    t = torch.from_numpy(np.asarray(frame).copy()).permute(2, 0, 1).contiguous()
    return t.float().div_(255.0) if decode.image_dtype == "float32" else t


def _cover(have: tuple[int, int], size: int | tuple[int, int]) -> tuple[int, int]:
    """The smallest (w, h) at the source's aspect ratio that still covers `size`."""
    w, h = have
    if isinstance(size, int):
        scale = size / min(w, h)
    else:
        scale = max(size[0] / h, size[1] / w)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def _resize(im: Any, size: int | tuple[int, int]) -> Any:
    from PIL import Image

    if not isinstance(size, int):
        return im.resize((size[1], size[0]), Image.Resampling.BILINEAR, reducing_gap=2.0)
    w, h = _cover(im.size, size)
    im = im.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size))


def audio_tensor(data: bytes, decode: Decode) -> torch.Tensor:
    import soundfile as sf

    with sf.SoundFile(io.BytesIO(data)) as f:
        frames = -1 if decode.audio_window_s is None else int(round(decode.audio_window_s * f.samplerate))
        wave = f.read(frames=frames, dtype="float32", always_2d=True)
    return torch.from_numpy(wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0].copy())


def video_tensor(row: dict[str, Any], blobs: dict[str, bytes], decode: Decode) -> torch.Tensor | None:
    """T×C×H×W: evenly spread keyframes, or the first frames of the canonical video."""
    if decode.video == "keyframes":
        frames = [image_tensor(blobs[r], decode) for r in _spread(row.get("keyframes") or [], decode.video_frames) if r in blobs]
    else:
        data = blobs.get(row.get("media_video") or "")
        frames = _clip(data, decode) if data is not None else []
    if not frames:
        return None
    if len({f.shape for f in frames}) > 1:  # native sizes that differ: pad to the largest
        return _pad_images(frames)[0]
    return torch.stack(frames)


def _clip(data: bytes, decode: Decode) -> list[torch.Tensor]:
    import av

    out: list[torch.Tensor] = []
    with av.open(io.BytesIO(data)) as container:
        if not container.streams.video:
            return out
        for frame in container.decode(video=0):
            im = frame.to_image()
            if decode.image_size is not None:
                im = _resize(im, decode.image_size)
            t = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).contiguous()
            out.append(t.float().div_(255.0) if decode.image_dtype == "float32" else t)
            if len(out) == decode.video_frames:
                break
    return out


def _spread(refs: Sequence[str], n: int) -> list[str]:
    if len(refs) <= n:
        return list(refs)
    return [refs[round(i * (len(refs) - 1) / (n - 1))] if n > 1 else refs[0] for i in range(n)]


_TOKENIZERS: dict[str, Any] = {}


def tokens(text: str, decode: Decode) -> torch.Tensor:
    assert decode.tokenizer is not None
    tok = _TOKENIZERS.get(decode.tokenizer)
    if tok is None:
        from transformers import AutoTokenizer

        tok = _TOKENIZERS[decode.tokenizer] = AutoTokenizer.from_pretrained(decode.tokenizer)
    ids = tok(text, truncation=True, max_length=decode.max_tokens)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


# -- the datasets ---------------------------------------------------------------------------------
class SampleDataset(Dataset):
    """Map-style: `len()` rows, `ds[i]` one item; a DataLoader fetches a whole batch with one read
    (`__getitems__`). Pair it with `DistributedSampler` for several ranks."""

    def __init__(self, selection: Selection, decode: Decode) -> None:
        self.selection, self.decode = selection, decode

    def __len__(self) -> int:
        return len(self.selection.addresses)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return self.selection.read([index % len(self)], self.decode)[0]

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        return self.selection.read(indices, self.decode)


class SampleStream(IterableDataset):
    """Iterable: each epoch, blocks of neighbouring rows (runs inside one fragment) are put in a
    seeded order and their rows shuffled; the order is dealt to ranks (equal shares, the last rows
    wrapped around as `DistributedSampler` does) and, in chunks of `read_rows`, to DataLoader
    workers. `set_epoch(e)` before each epoch; the same (seed, epoch) gives the same order."""

    def __init__(
        self,
        selection: Selection,
        decode: Decode,
        *,
        shuffle: bool = True,
        seed: int = 0,
        read_rows: int = 64,
        block_rows: int = 1024,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if read_rows < 1 or block_rows < 1:
            raise ValueError("read_rows and block_rows must be at least 1")
        self.selection, self.decode = selection, decode
        self.shuffle, self.seed, self.read_rows, self.block_rows = shuffle, seed, read_rows, block_rows
        self.rank, self.world_size = _distributed(rank, world_size)
        # shared memory: DataLoader workers kept across epochs read the epoch the trainer set
        self._epoch = multiprocessing.RawValue("q", 0)

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.value = int(epoch)

    def __len__(self) -> int:
        """Items this rank yields per epoch."""
        return math.ceil(len(self.selection.addresses) / self.world_size) if len(self.selection.addresses) else 0

    def positions(self, worker: int = 0, workers: int = 1) -> list[np.ndarray]:
        """The chunks (positions into the selection) that this rank's `worker` reads this epoch."""
        n = len(self.selection.addresses)
        order = epoch_order(n, self.seed, self.epoch, self.block_rows) if self.shuffle else np.arange(n)
        mine = np.resize(order, len(self) * self.world_size)[self.rank :: self.world_size] if n else order
        chunks = [mine[i : i + self.read_rows] for i in range(0, len(mine), self.read_rows)]
        return chunks[worker::workers]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for chunk in self.positions(worker, workers):
            yield from self.selection.read(chunk.tolist(), self.decode)


def dataloader(dataset: Dataset, batch_size: int = 32, num_workers: int = 2, **options: Any) -> DataLoader:
    """A DataLoader over a Tessera dataset with what it needs: `collate`, workers started by
    forkserver (Lance is not fork-safe: a forked worker may hang on the parent's I/O runtime),
    pinned memory when CUDA is there, workers kept across epochs (a stream's `set_epoch` reaches
    them through shared memory). `options` go to DataLoader as they are."""
    defaults: dict[str, Any] = {"collate_fn": collate, "pin_memory": torch.cuda.is_available()}
    if num_workers > 0:
        # workers fork from a server that has torch and this module loaded already: they start in
        # milliseconds, not seconds (set once per process, before its forkserver starts)
        multiprocessing.get_context("forkserver").set_forkserver_preload(["torch", "tessera.loader"])
        defaults.update(multiprocessing_context="forkserver", prefetch_factor=4, persistent_workers=True)
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, **{**defaults, **options})


def epoch_order(n: int, seed: int, epoch: int, block_rows: int) -> np.ndarray:
    """A seeded permutation of range(n) that keeps reads local: blocks of `block_rows`
    neighbouring rows in random order, rows shuffled inside each block."""
    rng = np.random.default_rng([seed, epoch])
    blocks = [np.arange(s, min(s + block_rows, n)) for s in range(0, n, block_rows)]
    return np.concatenate([rng.permutation(blocks[b]) for b in rng.permutation(len(blocks))]) if blocks else np.arange(0)


def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is None and world_size is None and torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not within world size {world_size}")
    return rank, world_size


# -- batches ------------------------------------------------------------------------------------
def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch: `sample_id` and `modalities` as lists; per modality present in the items, padded
    tensors, their true sizes and `mask[modality]` (True where the sample has it; False rows
    are zeros and must be ignored). Keys:

    image `B×C×H×W` + `image_sizes` `B×2` · audio `B×T` + `audio_lengths` · video `B×F×C×H×W` +
    `video_lengths` (frames) · text: a list of strings, or `input_ids`/`attention_mask` `B×L` when
    tokenized · `segments` (lists of {start, end, text, source}) with `segment_times` `B×S×2` and
    `segment_mask` · vector columns `B×D`."""
    if not items:
        raise ValueError("collate got an empty batch")
    out: dict[str, Any] = {"sample_id": [i["sample_id"] for i in items], "batch": [i["batch"] for i in items],
                           "modalities": [i["modalities"] for i in items], "errors": [i["errors"] for i in items], "mask": {}}  # fmt: skip
    keys = items[0].keys()
    if "image" in keys:
        out["image"], out["image_sizes"], out["mask"]["image"] = _pad_images([i["image"] for i in items])
    if "audio" in keys:
        waves = [i["audio"] for i in items]
        out["audio"], out["audio_lengths"], out["mask"]["audio"] = _pad_1d(waves, torch.float32)
    if "video" in keys:
        out["video"], out["video_lengths"], out["mask"]["video"] = _pad_videos([i["video"] for i in items])
    if "text" in keys:
        texts = [i["text"] for i in items]
        out["mask"]["text"] = torch.tensor([t is not None for t in texts])
        if any(isinstance(t, torch.Tensor) for t in texts):
            out["input_ids"], lengths, _ = _pad_1d(texts, torch.long)
            out["attention_mask"] = torch.arange(out["input_ids"].shape[1])[None, :] < lengths[:, None]
        else:
            out["text"] = texts
        out["transcript"] = [i["transcript"] for i in items]
        out["segments"] = [i["segments"] for i in items]
        most = max((len(s) for s in out["segments"]), default=0)
        times = torch.zeros(len(items), most, 2, dtype=torch.float64)
        for b, segs in enumerate(out["segments"]):
            for j, s in enumerate(segs):
                times[b, j, 0], times[b, j, 1] = s["start"], s["end"]
        out["segment_times"] = times
        out["segment_mask"] = torch.arange(most)[None, :] < torch.tensor([len(s) for s in out["segments"]])[:, None]
    for column in [k for k in keys if k.startswith("vec_")]:
        out[column], _, out["mask"][column] = _pad_1d([i[column] for i in items], torch.float32)
    return out


def _pad_1d(values: list[torch.Tensor | None], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([0 if v is None else int(v.shape[0]) for v in values], dtype=torch.long)
    padded = torch.zeros(len(values), int(lengths.max()) if len(values) else 0, dtype=dtype)
    for b, v in enumerate(values):
        if v is not None:
            padded[b, : v.shape[0]] = v
    return padded, lengths, torch.tensor([v is not None for v in values])


def _pad_images(images: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    present = [im for im in images if im is not None]
    sizes = torch.tensor([[0, 0] if im is None else list(im.shape[-2:]) for im in images], dtype=torch.long)
    if not present:
        return torch.zeros(len(images), 3, 0, 0, dtype=torch.uint8), sizes, torch.zeros(len(images), dtype=torch.bool)
    h, w = int(sizes[:, 0].max()), int(sizes[:, 1].max())
    padded = torch.zeros(len(images), *present[0].shape[:-2], h, w, dtype=present[0].dtype)
    for b, im in enumerate(images):
        if im is not None:
            padded[b, ..., : im.shape[-2], : im.shape[-1]] = im
    return padded, sizes, torch.tensor([im is not None for im in images])


def _pad_videos(videos: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([0 if v is None else int(v.shape[0]) for v in videos], dtype=torch.long)
    frames = [f for v in videos if v is not None for f in v]
    if not frames:
        return torch.zeros(len(videos), 0, 3, 0, 0, dtype=torch.uint8), lengths, torch.zeros(len(videos), dtype=torch.bool)
    stacked, _, _ = _pad_images(frames)
    padded = torch.zeros(len(videos), int(lengths.max()), *stacked.shape[1:], dtype=stacked.dtype)
    at = 0
    for b, v in enumerate(videos):
        if v is not None:
            padded[b, : v.shape[0]] = stacked[at : at + v.shape[0]]
            at += v.shape[0]
    return padded, lengths, torch.tensor([v is not None for v in videos])
