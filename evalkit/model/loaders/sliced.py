"""Load one tensor-parallel rank's slice of a checkpoint: no rank ever reads or holds the whole model.

Each format's `tensor_index` locates the Meta-named tensors in their files (stored.py); the model is built
on the meta device and parallelized (evalkit/model/tensor_parallel.py); then, one tensor at a time, the
rank reads its slice (`rank_slice`) and assigns it. Meta's shards are read directly when their count is T
(the slice of each tensor is then exactly one shard's part) and re-sliced otherwise, reading only the
overlapping parts; Hugging Face files by slice reads, whole heads in Meta's head order then unpermuted;
llama2.c exports by slice reads too. The embedded `tiny` model is generated whole (it is tiny) and sliced.
A model with tied embeddings gets two slices of the one matrix: by columns for the embedding, by
vocabulary rows for the output layer.
"""
from __future__ import annotations

from pathlib import Path

import torch

from evalkit.errors import CheckpointError
from evalkit.model.config import ModelConfig
from evalkit.model.llama import Transformer, column_major
from evalkit.model.loaders.common import LoadedModel, check_vocab, find_tokenizer, fingerprint
from evalkit.model.loaders.stored import MemoryTensor, Stored
from evalkit.model.tensor_parallel import TensorParallel, check, parallelize, rank_slice
from evalkit.tokenizer import Tokenizer


def _index(fmt: str, path: Path) -> tuple[ModelConfig, dict[str, Stored], Tokenizer, list[Path]]:
    from evalkit.model.loaders import hf, llama2c, meta, tiny
    if fmt == "tiny":
        from evalkit.model.config import preset
        tokenizer = Tokenizer(tiny.TOKENIZER)
        cfg = preset("tiny").with_(vocab_size=tokenizer.vocab_size)
        return cfg, {n: MemoryTensor(t) for n, t in tiny.random_state_dict(cfg).items()}, tokenizer, []
    if fmt == "llama2c":
        cfg, index = llama2c.tensor_index(path)
        tokenizer = Tokenizer(find_tokenizer(path.parent))
        return cfg, index, tokenizer, [path, tokenizer.path]
    return (meta if fmt == "meta" else hf).tensor_index(path)


def rank_state_dict(cfg: ModelConfig, index: dict[str, Stored], names: list[str], tp: TensorParallel,
                    dtype: torch.dtype | None, device: str, source: str = "") -> dict[str, torch.Tensor]:
    """This rank's slice of every tensor in `names`, read from where `index` says it is stored straight into
    its final dtype, device and layout (see Transformer.load_weights), so no second copy is ever made.
    A stored tensor whose whole shape is not the config's is refused before it is read (CheckpointError
    naming `source`): a slice of it would be the wrong rows."""
    with torch.device("meta"):
        whole = {name: tuple(p.shape) for name, p in Transformer(cfg.with_(tie_embeddings=False)).named_parameters()}
    state_dict = {}
    for name in names:
        stored = index.get(name)
        if stored is None and name == "output.weight" and cfg.tie_embeddings:
            stored = index.get("tok_embeddings.weight")
        if stored is None:
            continue  # load_weights names what is missing
        if tuple(stored.shape) != whole[name]:
            raise CheckpointError(f"{source}: tensor {name} has shape {tuple(stored.shape)}, the config implies "
                                  f"{whole[name]}")
        part = rank_slice(name, cfg, tp)
        shape = list(stored.shape)
        if part is not None:
            shape[part.dim] = part.length
        kind = dtype or stored.dtype
        dest = torch.empty(shape[::-1], dtype=kind, device=device).t() \
            if column_major(name, len(shape), kind, torch.device(device)) else torch.empty(shape, dtype=kind, device=device)
        if part is not None and part.stop - part.start < part.length:  # the last rank's padded vocabulary rows
            dest.zero_()
            stored.read_into(part, dest.narrow(part.dim, 0, part.stop - part.start))
        else:
            stored.read_into(part, dest)
        state_dict[name] = dest
    return state_dict


def load_slice(spec: str, fmt: str, path: Path, device: str, dtype: torch.dtype | None,
               tp: TensorParallel) -> LoadedModel:
    """The model `spec` names, as rank `tp.rank` of `tp.size`; refused before any weight is read when the
    model's heads or feed-forward size cannot be split that way."""
    from evalkit.model.loaders.tiny import load_fingerprint

    cfg, index, tokenizer, files = _index(fmt, path)
    check(cfg, tp.size, spec)
    check_vocab(cfg, tokenizer)
    with torch.device("meta"):  # no memory until the slices are assigned
        model = Transformer(cfg)
        parallelize(model, tp)
    names = [name for name, _ in model.named_parameters()]
    if unknown := sorted(set(index) - set(names)):
        raise CheckpointError(f"{path}: unknown keys {unknown[:5]}{'...' if len(unknown) > 5 else ''}")
    state_dict = rank_state_dict(cfg, index, names, tp, dtype, device, str(path))
    model.load_weights(state_dict, str(path), dtype=dtype, device=device)
    model.eval().requires_grad_(False)
    mark = load_fingerprint(cfg, model.dtype) if fmt == "tiny" else fingerprint(fmt, files, model.dtype)
    return LoadedModel(model, tokenizer, spec, fmt, mark)

