"""The `hf` backend against the bundled engine on the same weights: log-likelihoods within 1e-4, the same
greedy text and samples; its tokenizer adapter, fallbacks, Hub errors and the missing-extra message.

Two checkpoints are written in Hugging Face format: a random GQA Llama with a large init (attention far
from uniform) and a 64-token window, so contexts are cut and long continuations windowed; and the
trained stories260K, whose greedy text is real words. Both carry the tok512 tokenizer converted by
transformers to tokenizer.json, as Hub checkpoints ship it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from evalkit.backends import hf, llama
from evalkit.backends.base import Backend, BackendOptions
from evalkit.errors import CheckpointError, UsageError
from evalkit.model.loaders import load_model
from evalkit.model.loaders.hf import meta_name
from evalkit.requests import GenerateRequest, LoglikelihoodRequest, RollingLoglikelihoodRequest
from evalkit.tokenizer import Tokenizer
from tests.conftest import REPO, STORIES_BIN, STORIES_DIR
from tests.test_loaders_hub import closed_port, put_in_cache

transformers = pytest.importorskip("transformers")

STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her"
HUB_ID = "evalkit-test/tiny-llama"


def add_tokenizer(folder):
    """tok512 as the bundled loader reads it (tokenizer.model) and as transformers ships it (tokenizer.json)."""
    shutil.copy(STORIES_DIR / "tok512.model", folder / "tokenizer.model")
    transformers.AutoTokenizer.from_pretrained(folder).save_pretrained(folder)
    assert (folder / "tokenizer.json").is_file()
    return folder


@pytest.fixture(scope="module")
def random_folder(tmp_path_factory):
    config = transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
        num_key_value_heads=2, rms_norm_eps=1e-5, initializer_range=0.2, max_position_embeddings=64,
        rope_theta=500.0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("random")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return add_tokenizer(folder)


def hf_rope_order(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Meta's interleaved rotary pairs -> HF's halves (convert_llama_weights_to_hf's permute)."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


@pytest.fixture(scope="module")
def stories_folder(tmp_path_factory):
    """stories260K written as transformers writes a Llama (names, rotary order, tied embeddings)."""
    ours = load_model(str(STORIES_BIN)).model
    cfg = ours.cfg
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.kv_heads, rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta, max_position_embeddings=cfg.max_seq_len, tie_word_embeddings=cfg.tie_embeddings,
        bos_token_id=1, eos_token_id=2))
    theirs = ours.state_dict()
    state = {}
    for name, tensor in model.state_dict().items():
        value = theirs[meta_name(name)]
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            value = hf_rope_order(value, cfg.n_heads if "q_proj" in name else cfg.kv_heads)
        state[name] = value.clone()
    model.load_state_dict(state)
    folder = tmp_path_factory.mktemp("stories")
    model.save_pretrained(folder)
    return add_tokenizer(folder)


def both(folder, **options):
    """(hf backend, llama backend) on the same checkpoint folder."""
    settings = BackendOptions(model=str(folder), **options)
    return hf.load(settings), llama.load(settings)


def assert_same_scores(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert abs(a.loglikelihood - b.loglikelihood) < 1e-4, (a, b)
        assert a.num_tokens == b.num_tokens and getattr(a, "is_greedy", None) == getattr(b, "is_greedy", None)


def multiple_choice_requests() -> list[LoglikelihoodRequest]:
    long = " and then they all went home and had a very big dinner with cake and milk and cookies" * 2
    choices = ("dog.", "mom and dad.", "friends at school.", "ball")
    requests = [LoglikelihoodRequest(f"Question {q}: {STORY} ", choice)  # trailing space moves to the choice
                for q in range(3) for choice in choices]
    requests += [LoglikelihoodRequest(f"The park was big. {STORY} {name} and her", choice)  # a family: one prefix
                 for name in ("Tom", "Sue", "Max") for choice in choices]
    return requests + [
        LoglikelihoodRequest("", "Lily"),                          # BOS alone as the condition
        LoglikelihoodRequest(STORY * 3, " ball"),                  # context cut from the left to fit 64 tokens
        LoglikelihoodRequest("The end.", long),                    # continuation longer than the window
        LoglikelihoodRequest("Question 0: " + STORY + " ", "dog."),  # a duplicate
    ]


def test_tokenizer_adapter_encodes_and_decodes_as_sentencepiece(random_folder):
    backend = hf.load(BackendOptions(model=str(random_folder)))
    sp = Tokenizer(random_folder / "tokenizer.model")
    texts = ["Hello world", " Paris", "a\nb\n\nc", "Q: 2+2?\nA: 4", "héllo 日本語 🙂", "", "\n", "1234567",
             "tab\there", "<s> is text, not BOS </s>", STORY]
    for text in texts:
        ids = sp.encode(text, bos=True)
        assert backend.tokenizer.encode(text, bos=True) == ids, text
        assert backend.tokenizer.decode(ids) == sp.decode(ids), text
        assert backend.count_tokens(text) == len(ids)


def test_loglikelihoods_match_the_bundled_engine(random_folder):
    backend, bundled = both(random_folder)
    requests = multiple_choice_requests()
    assert_same_scores(backend.loglikelihood(requests), bundled.loglikelihood(requests))
    assert backend.max_length == bundled.max_length == 64
    assert backend.stats.contexts_reused >= 18  # six contexts forwarded once for their four choices
    assert backend.stats.prefix_tokens_reused >= 2 * 32  # the family's prefix forwarded once for three


def test_rolling_loglikelihood_matches(random_folder):
    backend, bundled = both(random_folder)
    requests = [RollingLoglikelihoodRequest(STORY * 2), RollingLoglikelihoodRequest("Lily"),
                RollingLoglikelihoodRequest(" The dog ran.")]
    ours, theirs = backend.loglikelihood_rolling(requests), bundled.loglikelihood_rolling(requests)
    assert ours[0].num_tokens > 64  # several windows
    assert_same_scores(ours, theirs)


def test_whole_sequence_paths_give_the_same_answers(random_folder):
    """Deterministic mode (one row per forward, no shared context) and a model without a KV cache."""
    shared = hf.load(BackendOptions(model=str(random_folder)))
    deterministic = hf.load(BackendOptions(model=str(random_folder), deterministic=True))
    requests = multiple_choice_requests()
    assert_same_scores(deterministic.loglikelihood(requests), shared.loglikelihood(requests))
    assert deterministic.stats.contexts_reused == 0
    uncached = hf.load(BackendOptions(model=str(random_folder), batch_size=3))
    uncached.lm = dataclasses.replace(uncached.lm, cache_arg=None)
    assert_same_scores(uncached.loglikelihood(requests), shared.loglikelihood(requests))
    prompts = [GenerateRequest(STORY, max_new_tokens=12), GenerateRequest("Lily", max_new_tokens=5, n=2,
                                                                              temperature=1.0)]
    assert uncached.generate(prompts) == shared.generate(prompts)


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    """A random GPT-2 (absolute position embeddings, 64 of them) with a byte-level BPE trained here."""
    from tokenizers import Tokenizer as BPETokenizer, decoders, models, pre_tokenizers, trainers
    bpe = BPETokenizer(models.BPE())
    bpe.pre_tokenizer, bpe.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    bpe.train_from_iterator([STORY, "Question: The park was big. Tom Sue Max mom and dad friends at school"],
                            trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    folder = tmp_path_factory.mktemp("gpt2")
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=64, n_layer=2, n_head=4, eos_token_id=0,
        initializer_range=0.2)).save_pretrained(folder)
    return folder


def test_another_architecture_shares_contexts_correctly(gpt2_folder):
    """GPT-2 has no BOS (its end-of-text token conditions instead) and absolute positions: shared contexts
    and expanded caches give the answers of whole sequences, one per forward."""
    shared = hf.load(BackendOptions(model=str(gpt2_folder)))
    whole = hf.load(BackendOptions(model=str(gpt2_folder), deterministic=True))
    assert shared.tokenizer.bos_id == 0 and shared.max_length == 64 and shared.lm.cache_arg
    requests = multiple_choice_requests()
    assert_same_scores(shared.loglikelihood(requests), whole.loglikelihood(requests))
    assert shared.stats.contexts_reused > 0 and shared.stats.prefix_tokens_reused > 0
    prompts = [GenerateRequest(STORY, max_new_tokens=12), GenerateRequest("Lily", max_new_tokens=5, n=2,
                                                                              temperature=1.0)]
    assert shared.generate(prompts) == whole.generate(prompts)


def test_greedy_text_and_samples_match(stories_folder):
    backend, bundled = both(stories_folder)
    requests = [GenerateRequest(STORY, max_new_tokens=40), GenerateRequest("Tom had a red", max_new_tokens=25),
                GenerateRequest(STORY, until=(".",), max_new_tokens=60), GenerateRequest("", max_new_tokens=10),
                GenerateRequest(STORY, temperature=0.8, top_p=0.9, n=3, max_new_tokens=20, seed=7)]
    ours, theirs = backend.generate(requests), bundled.generate(requests)
    assert ours == theirs
    assert all(text.strip() for r in ours for text in r.texts)
    assert "." not in ours[2].texts[0] and len(set(ours[4].texts)) > 1
    later = backend.generate(requests[4:], first_sample={requests[4]: 1})
    assert later[0].texts == ours[4].texts[1:]
    # the greedy continuation scores as greedy on both backends
    scored = [LoglikelihoodRequest(STORY, ours[0].texts[0])]
    assert_same_scores(backend.loglikelihood(scored), bundled.loglikelihood(scored))
    assert backend.loglikelihood(scored)[0].is_greedy


def test_fingerprint_and_description(random_folder):
    backend, bundled = both(random_folder)
    assert isinstance(backend, Backend)
    half = hf.load(BackendOptions(model=str(random_folder), dtype="bfloat16"))
    deterministic = hf.load(BackendOptions(model=str(random_folder), deterministic=True))
    assert len({backend.fingerprint, half.fingerprint, deterministic.fingerprint, bundled.fingerprint}) == 4
    assert backend.fingerprint == hf.load(BackendOptions(model=str(random_folder))).fingerprint
    info = backend.describe()
    assert info["backend"] == info["format"] == "hf" and info["fingerprint"] == backend.fingerprint
    assert info["label"] == random_folder.name and info["dtype"] == "float32" and half.describe()["dtype"] == "bfloat16"
    assert info["max_length"] == 64 and info["model_type"] == "llama"


def test_bad_model_specs_are_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        hf.load(BackendOptions(model=str(tmp_path)))
    with pytest.raises(CheckpointError, match="not a Hugging Face Hub id"):
        hf.load(BackendOptions(model=str(tmp_path / "a" / "b" / "c")))
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(CheckpointError, match="transformers cannot load it"):
        hf.load(BackendOptions(model=str(tmp_path)))
    with pytest.raises(UsageError, match="needs --model"):
        hf.load(BackendOptions())


LOAD = ("import sys; from evalkit.errors import EvalkitError; from evalkit.backends import hf, base\n"
        "for spec in sys.argv[1:]:\n"
        "    try: b = hf.load(base.BackendOptions(model=spec)); print('loaded', b.max_length)\n"
        "    except EvalkitError as e: print('error', e)")


def load_in_subprocess(specs: list[str], home, offline: bool) -> list[str]:
    """huggingface_hub reads HF_HOME, HF_ENDPOINT and HF_HUB_OFFLINE at import: a fresh interpreter each time."""
    env = {**os.environ, "HF_HOME": str(home), "HF_ENDPOINT": closed_port(), "HF_HUB_OFFLINE": "1" if offline else "0",
           "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    done = subprocess.run([sys.executable, "-c", LOAD, *specs], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_hub_id_offline_loads_from_the_cache_or_says_why(tmp_path, random_folder):
    put_in_cache(tmp_path, random_folder)
    cached, missing = load_in_subprocess([HUB_ID, "evalkit-test/not-cached"], tmp_path, offline=True)
    assert cached == "loaded 64"
    assert missing.startswith("error evalkit-test/not-cached: ") and "HF_HUB_OFFLINE" in missing


def test_hub_id_unreachable_is_one_line(tmp_path):
    [out] = load_in_subprocess([HUB_ID], tmp_path, offline=False)
    assert out.startswith(f"error {HUB_ID}: not in the local cache and not downloadable")


def cli(*args: str, hide_transformers: bool = False) -> subprocess.CompletedProcess:
    """run_eval.py in a fresh interpreter; hide_transformers makes `import transformers` fail, as without the extra."""
    hide = "import sys; sys.modules['transformers'] = None; " if hide_transformers else "import sys; "
    code = hide + "from evalkit.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args, "--no-progress"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_missing_transformers_names_the_extra(tmp_path, random_folder):
    done = cli("run", "--backend", "hf", "--model", str(random_folder), "--tasks", "boolq", "--examples",
               "--output-dir", str(tmp_path), hide_transformers=True)
    assert done.returncode == 2
    assert done.stderr == ("error: the hf backend needs transformers, which is not installed: "
                           "pip install 'evalkit[hf]'\n")


def test_run_command_with_hf_backend_matches_llama(tmp_path, stories_folder):
    """`run --backend hf` and `run --backend llama` on the same folder: same per-choice log-likelihoods."""
    samples = {}
    for name in ("hf", "llama"):
        out = tmp_path / name
        done = cli("run", "--backend", name, "--model", str(stories_folder), "--tasks", "hellaswag,arc_easy",
                   "--examples", "--output-dir", str(out))
        assert done.returncode == 0, done.stderr
        samples[name] = [json.loads(line) for task in ("hellaswag", "arc_easy")
                         for line in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]
        model = json.loads((out / "results.json").read_text())["model"]
        assert model["backend"] == name and model["fingerprint"]
    assert len(samples["hf"]) == len(samples["llama"]) >= 6
    for ours, theirs in zip(samples["hf"], samples["llama"]):
        assert ours["prediction"] == theirs["prediction"]
        assert all(abs(a - b) < 1e-4 for a, b in zip(ours["loglikelihoods"], theirs["loglikelihoods"], strict=True))


def test_reading_the_tokens_back_every_8_steps_gives_the_same_texts(stories_folder):
    """On a GPU the decode loop reads the chosen tokens back every 8 steps, not every step: rows that ended
    (EOS, budget, a stop string found in their last tokens' text) keep the tokens they had then."""
    backend, _ = both(stories_folder)
    requests = [GenerateRequest(STORY, until=(".", " her"), max_new_tokens=40),
                GenerateRequest("Tom had a red", until=("\n",), max_new_tokens=25),
                GenerateRequest(STORY, temperature=0.8, top_p=0.9, n=4, max_new_tokens=30, seed=3, until=(",",))]
    every_step = backend.generate(requests)
    backend.sync_every = 8
    assert backend.generate(requests) == every_step
    assert not any(stop in every_step[0].texts[0] for stop in (".", " her"))
    assert len(set(every_step[2].texts)) > 1 and not any("," in text for text in every_step[2].texts)


def test_memory_derived_batch_budget(stories_folder):
    """batch_size auto with a known free memory (a CUDA device's, here given): budgets from the bundled
    model's footprint arithmetic, counting the (T, vocab) logits a transformers forward returns."""
    from evalkit.backends.hf_model import footprint
    from evalkit.engine.batching import MEMORY_FRACTION
    backend = hf.load(BackendOptions(model=str(stories_folder), device_memory=10**7))
    fp = footprint(backend.lm, backend.max_length)
    assert fp.cfg.n_layers == 5 and fp.cfg.kv_heads == 4 and fp.logits_per_token
    slot = fp.kv_bytes_per_token + fp.activation_bytes_per_token(backend.max_length)
    assert backend.policy.from_memory and backend.policy.max_tokens == int(1e7 * MEMORY_FRACTION) // slot
    assert slot > fp.kv_bytes_per_token + 512 * 8  # the logits are counted
