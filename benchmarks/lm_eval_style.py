"""lm-evaluation-harness's HF loglikelihood loop (0.4.x `HFLM._loglikelihood_tokens`), as an in-process
baseline: the peer as its users run it, `--batch_size 8`.

- Each request is one row, (context + continuation)[:-1]; rows whose inputs are the same token ids (the
  choices of a question with one-token answers, MMLU's " A".." D") are forwarded once (its logits cache,
  `group_by="contexts"`).
- Rows are sorted longest first and taken `batch_size` at a time, right-padded with zeros to the longest
  of the batch, with no attention mask (padding after the last real token cannot change its logits).
- log_softmax over every position of the padded batch, in the model's dtype; the continuation's
  log-probabilities summed.
"""
from __future__ import annotations

import torch

from evalkit.requests import LoglikelihoodRequest


@torch.inference_mode()
def lm_eval_loglikelihoods(forward, tokenizer, requests: list[LoglikelihoodRequest],
                           batch_size: int = 8) -> tuple[list[float], int, int]:
    """forward: ids (B, T) -> logits (B, T, vocab). -> (log-likelihoods, real tokens, padding tokens) forwarded."""
    encoded = [(tokenizer.encode(r.context, bos=True), tokenizer.encode(r.continuation)) for r in requests]
    rows: dict[tuple[int, ...], list[int]] = {}  # forwarded ids -> the requests they answer
    for i, (context, continuation) in enumerate(encoded):
        rows.setdefault(tuple(context + continuation[:-1]), []).append(i)
    order = sorted(rows, key=lambda ids: (-len(ids), ids))
    results, tokens, padding = [0.0] * len(requests), 0, 0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        width = len(batch[0])  # longest first
        ids = torch.zeros(len(batch), width, dtype=torch.long)  # (B, T)
        for j, row in enumerate(batch):
            ids[j, :len(row)] = torch.tensor(row)
        logprobs = torch.log_softmax(forward(ids), dim=-1)  # (B, T, vocab)
        for j, row in enumerate(batch):
            for i in rows[row]:
                context, continuation = encoded[i]
                span = logprobs[j, len(context) - 1:len(context) - 1 + len(continuation)]  # (len(cont), vocab)
                results[i] = float(span.gather(1, torch.tensor(continuation)[:, None]).double().sum())
        tokens += sum(map(len, batch))
        padding += len(batch) * width - sum(map(len, batch))
    return results, tokens, padding
