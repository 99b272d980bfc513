"""Reading the decoding state back every k steps (as on a GPU) gives the texts of reading it every step:
stop strings found late keep the length they had, EOS and budgets end rows on the device."""
from __future__ import annotations

import copy

import pytest
import torch

from conftest import stories_reference
from evalkit.engine import Engine
from evalkit.errors import RequestError
from evalkit.requests import GenerateRequest

PROMPT = stories_reference().get("prompt", "Once upon a time")
REQUESTS = [GenerateRequest(PROMPT, until=(".", "\n"), max_new_tokens=60, temperature=1.0, n=24, seed=3),
            GenerateRequest("Lily saw a big dog", until=("Lily", " the"), max_new_tokens=50, temperature=0.7,
                            top_p=0.9, n=16, seed=1),
            GenerateRequest("The cat", until=("!",), max_new_tokens=80),  # greedy, in the same batch
            GenerateRequest("Tom went", max_new_tokens=200, temperature=1.2, n=8, seed=2)]  # EOS and budget only


@pytest.mark.parametrize("every", [3, 8, 64])
def test_texts_do_not_depend_on_how_often_the_host_reads(stories, every):
    each = Engine(stories, sync_every=1)
    late = Engine(stories, sync_every=every)
    assert late.generate(REQUESTS) == each.generate(REQUESTS)
    assert late.stats.tokens_generated == each.stats.tokens_generated  # stopped rows keep their lengths
    assert late.stats.forward_calls >= each.stats.forward_calls  # rows may decode on until a check


def test_cpu_reads_every_step_by_default(stories):
    assert Engine(stories).sync_every == 1


def test_non_finite_logits_found_at_a_late_check(stories):
    broken = copy.deepcopy(stories)
    with torch.no_grad():
        broken.model.layers[0].attention.wq.weight[0, 0] = float("nan")
    with pytest.raises(RequestError, match="not finite") as caught:
        Engine(broken, sync_every=8).generate([GenerateRequest("The cat", max_new_tokens=20, n=2, temperature=1.0),
                                               GenerateRequest("Tom went", max_new_tokens=20)])
    assert caught.value.request.context in ("The cat", "Tom went")
