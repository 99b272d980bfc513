"""The model both harnesses load in vs_lm_eval.py: the "small" preset with random weights, saved as a
transformers Llama folder (config.json, safetensors, tokenizer.model and tokenizer.json).

No 32000-token LLaMA tokenizer is available offline, so by default one is trained here with LLaMA's
settings (evalkit.tokenizer.train_tokenizer: BPE, split digits, byte fallback) on the text of the local
benchmark files, giving the small preset its 32000-token vocabulary; `--tokenizer` takes any
SentencePiece model instead (e.g. ../shared/models/stories260K/tok512.model). evalkit reads the folder
through its HF loader and lm-eval through transformers (LlamaForCausalLM, LlamaTokenizerFast): the same
tensors, and both check here that they compute the same logits (engine_common.to_transformers).
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import shutil
from pathlib import Path

import torch
import transformers

from engine_common import to_transformers
from evalkit.model.config import preset
from evalkit.model.llama import Transformer
from evalkit.tokenizer import Tokenizer, train_tokenizer

VOCAB = 32000


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item)


def corpus(data: Path, out: Path) -> Path:
    """Every text field of the local benchmark files (JSON lines, CSV, TSV), one line each."""
    with open(out, "w", encoding="utf-8") as f:
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            name = path.name.removesuffix(".gz")
            opener = gzip.open if path.suffix == ".gz" else open
            if name.endswith(".jsonl"):
                with opener(path, "rt", encoding="utf-8") as rows:
                    texts = [s for line in rows if line.strip() for s in _strings(json.loads(line))]
            elif name.endswith((".csv", ".tsv")):
                with opener(path, "rt", encoding="utf-8", newline="") as rows:
                    texts = [s for row in csv.reader(rows, delimiter="\t" if ".tsv" in name else ",") for s in row]
            else:
                continue
            f.writelines(line.strip() + "\n" for text in texts for line in text.splitlines() if line.strip())
    return out


def tokenizer_model(data: Path, work: Path) -> Path:
    """A 32000-token tokenizer trained on the local benchmark text (about a minute), cached in `work`."""
    path = work / f"tok{VOCAB // 1000}k.model"
    if not path.is_file():
        print(f"training a {VOCAB}-token tokenizer on {data} (once) ...", flush=True)
        train_tokenizer(corpus(data, work / "corpus.txt"), path.with_suffix(""), VOCAB)
    return path


def write_random_model(tokenizer: Path, folder: Path, preset_name: str = "small", seed: int = 0) -> Path:
    """A preset (with the vocabulary of `tokenizer`) with seeded random weights, in transformers' format."""
    if (folder / "config.json").is_file():
        return folder
    vocab = Tokenizer(tokenizer).vocab_size
    torch.manual_seed(seed)
    model = Transformer(dataclasses.replace(preset(preset_name), vocab_size=vocab)).eval()
    hf = to_transformers(model)
    hf.config.eos_token_id = 2  # the tokenizer's </s>: lm-eval reads it
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    hf.save_pretrained(tmp)
    shutil.copy(tokenizer, tmp / "tokenizer.model")
    # tokenizer.json, as the Hub ships it; converted from tokenizer.model, it tokenizes as SentencePiece does
    # (digits split, byte fallback) but, unless asked, without LLaMA's BOS, which lm-eval then would not add
    transformers.AutoTokenizer.from_pretrained(tmp, add_bos_token=True).save_pretrained(tmp)
    probe = "Question: 12 naïve?\nAnswer:"
    assert transformers.AutoTokenizer.from_pretrained(tmp).encode(probe) == Tokenizer(tokenizer).encode(probe, bos=True)
    tmp.rename(folder)
    return folder
