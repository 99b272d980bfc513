"""stories260K against llama2.c's run.c (shared/models/stories260K/reference_outputs.json)."""
from __future__ import annotations


import pytest
import torch

from tests.conftest import stories_reference

REFERENCE = stories_reference()


def greedy(model, prompt: list[int], steps: int) -> list[int]:
    """Prefill the prompt, then decode one token at a time from the KV cache."""
    cache = model.new_cache(1, len(prompt) + steps)
    ids = list(prompt)
    with torch.inference_mode():
        logits = model(torch.tensor([prompt]), cache=cache)
        for _ in range(steps):
            ids.append(int(logits[0, -1].argmax()))
            logits = model(torch.tensor([[ids[-1]]]), cache=cache)
    return ids


def test_tokenizer_matches_reference(stories):
    assert stories.tokenizer.encode(REFERENCE["prompt"], bos=True) == REFERENCE["prompt_ids_with_bos"]


def test_prompt_logits(stories):
    expected = torch.tensor(REFERENCE["prompt_logits_float32"]["values"])  # (5, 512)
    with torch.inference_mode():
        logits = stories.model(torch.tensor([REFERENCE["prompt_ids_with_bos"]]))[0]
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max() < 1e-4


def test_greedy_256_steps_with_kv_cache(stories):
    prompt, expected = REFERENCE["prompt_ids_with_bos"], REFERENCE["greedy_ids_with_bos"]
    assert len(expected) == REFERENCE["greedy_steps"] + 1  # run.c's steps count the prompt's positions too
    assert greedy(stories.model, prompt, len(expected) - len(prompt)) == expected


@pytest.mark.parametrize("case", REFERENCE["sentence_logliks"], ids=lambda c: c["text"][:20])
def test_sentence_mean_loglik(stories, case):
    ids = torch.tensor([case["ids_with_bos"]])
    with torch.inference_mode():
        logprobs = stories.model(ids).log_softmax(-1)[0, :-1]                    # (T-1, V)
    token_ll = logprobs.gather(-1, ids[0, 1:, None])[:, 0]                      # (T-1,)
    assert len(token_ll) == case["n_predicted_tokens"]
    assert token_ll.mean().item() == pytest.approx(case["mean_token_loglik"], abs=2e-6)
    assert token_ll.sum().item() == pytest.approx(case["sum_loglik"], abs=5e-5)
