"""Generation: a shared few-shot preamble prefilled once, each distinct prompt's own part once after it,
then a row per sample, all rows decoded together, one token per step, until each stops (stop string,
EOS, or its new-token budget: max_new_tokens capped to the room left in the window, see evalkit.window).

Rows read their preamble, then their prompt, as shared levels of cache (one copy each, cascade
attention: model/shared_prefix.py), then their own tokens (model/row_cache.py). Prompts that start
alike (engine/prefixes.families, as scoring finds them) share a preamble; it stays cached while prompts
after it remain. When rows end, waiting prompts join the running batch (continuous batching; a
prompt of another preamble too where the slot budget holds that preamble), their prefill in chunks of
at most JOIN_CHUNK tokens, each forwarded with a decoding step, so a step stays short: a row's
computation does not depend on when it started or beside which rows, so the texts are those of static
batches. A batch's caches are allocated once, as batch_slots counts them against the slot budget.

A step costs the same whatever the number of samples or the length of their texts: tokens, lengths
and stop flags stay on the device, each sample's random draws for all its steps are made when it starts
(one uniform per step from its own generator, as evalkit.engine.sampling prescribes). EOS and budgets
end rows on the device; the host reads back a small flag array once every `sync_every` steps (each
read waits for the device's queue to drain: on a GPU, every 8 steps). Stop strings are searched in
decoded text, not in token ids, because one may span two tokens (or end inside one); only a row whose
new token could complete a stop string (its text holds a stop string's last character, or is a partial
UTF-8 byte) is decoded, and only a tail window of its tokens, at the step where it was a candidate: a
row found stopped late keeps the length it had then, so the texts do not depend on `sync_every` (a
stopped row decodes on until the check, and its extra tokens are dropped). The returned text is cut
before the first stop string. Finished rows are replaced by joining prompts at a check, or, when none
can join, dropped from the cache once a quarter of the rows have finished, so long tails do not pay for
short ones.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from evalkit.engine.batching import BatchPolicy, pad
from evalkit.engine.encoding import continuation_text
from evalkit.engine.prefixes import families
from evalkit.engine.sampling import next_tokens, sample_generator
from evalkit.engine.stats import EngineStats
from evalkit.errors import RequestError
from evalkit.model.kv_cache import KVCache
from evalkit.model.llama import Transformer
from evalkit.model.row_cache import RowCache
from evalkit.model.shared_prefix import Level, SharedPrefix
from evalkit.requests import GenerateRequest, cut_at_stop
from evalkit.tokenizer import Tokenizer

TAIL_SLACK = 4   # tokens decoded beyond the longest stop string's length in characters
PREFILL_CHUNK = 256  # query tokens per forward of a prompt's part after a preamble: its scores stay small
# Token slots of a joining prompt's prefill per decoding step, forwarded with the step (its tokens stacked
# with the rows' in every weight product). A forward reads every weight once and does 2 flops per weight
# and token: up to about the device's flops per byte read (the roofline's ridge, ~300 for bf16 on an
# H100) the chunk's tokens ride on the weight read the step pays anyway, so a step stays about as short as
# a plain one whatever the joining prompt's length. (A CPU is compute-bound from a few tokens on: there a
# chunk lengthens the step, by a bounded amount.)
JOIN_CHUNK = 256


@dataclass(frozen=True)
class SampleEnd:
    """How a sample ended: what a server reports as `completion_tokens` and `finish_reason`."""
    tokens: int     # tokens the model generated, an ending EOS included (never more than the budget)
    stopped: bool   # ended by EOS or a stop string, not by its budget of new tokens


@dataclass
class _Prompt:
    """Distinct prompt ids and the samples to draw after them: (request, sample index), e.g. several
    requests that differ only in their seeds. A prompt with more samples than a batch holds is split.
    Its first `shared` ids are a preamble that other prompts start with too (prefilled once)."""
    ids: tuple[int, ...]
    samples: list[tuple[GenerateRequest, int]]
    budget: dict[GenerateRequest, int]  # most new tokens of each request
    shared: int = 0

    @property
    def preamble(self) -> tuple[int, ...]:
        return self.ids[:self.shared]

    @property
    def own(self) -> int:  # KV-cache slots of the prompt's own part (after its preamble)
        return len(self.ids) - self.shared

    @property
    def steps(self) -> int:  # KV-cache slots per sample row
        return max(self.budget[r] for r, _ in self.samples)


def generate(model: Transformer, tokenizer: Tokenizer, prompts: dict[GenerateRequest, tuple[list[int], int]],
             policy: BatchPolicy, stats: EngineStats, first_sample: dict[GenerateRequest, int],
             sync_every: int = 1, share_prefixes: bool = True, continuous: bool = True,
             ends: dict[tuple[GenerateRequest, int], SampleEnd] | None = None
             ) -> dict[GenerateRequest, tuple[str, ...]]:
    """Texts of samples first_sample.get(r, 0) .. r.n - 1 of every distinct request; `prompts` maps each
    to its prompt ids and its most new tokens (both already fitted to the window). The host reads the
    decoding state back every `sync_every` steps (see the module doc). share_prefixes: prompts that
    start with the same preamble (a run of them, evalkit.engine.prefixes) prefill it once and read it
    as one shared level of cache. continuous: a waiting prompt joins a running batch when rows free up
    (see _decode); otherwise each batch decodes until its last row ends. `ends`, when given, receives
    how each decoded (request, sample index) ended."""
    ends = {} if ends is None else ends
    budget, first, texts, by_ids = plan(prompts, first_sample)
    found = families(list(by_ids), lambda ids: ids) if share_prefixes else [((), list(by_ids))]
    groups = [_Prompt(ids, [(r, k) for r in by_ids[ids] for k in range(first[r], r.n)], budget, len(preamble))
              for preamble, members in found for ids in members]
    groups.sort(key=lambda p: (p.preamble, -(p.own + p.steps)))  # a preamble's prompts together, longest first
    stats.requests_computed += sum(len(reqs) for reqs in by_ids.values())
    drawn: dict[tuple[GenerateRequest, int], str] = {}
    preambles = _Preambles(model, stats)
    while groups:
        n = _take(groups, 0, policy, preambles)
        try:
            found_texts, joined = _decode(model, tokenizer, groups, n, preambles, policy, stats, sync_every,
                                          continuous, ends)
        except torch.OutOfMemoryError:
            if not policy.halve(slots=True):
                raise
            preambles.keep(set())  # one may be half forwarded
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            stats.oom_retries += 1
            continue
        drawn.update(found_texts)
        groups = [p for i, p in enumerate(groups[n:], n) if i not in joined]
        preambles.keep({p.preamble for p in groups})
    for reqs in by_ids.values():
        texts.update({r: tuple(drawn[r, k] for k in range(first[r], r.n)) for r in reqs})
    return texts


def batch_slots(batch: list[_Prompt], policy: BatchPolicy, cached: set[tuple[int, ...]] = frozenset()) -> int:
    """KV-cache slots a generation batch allocates (the budget's unit), preambles not in `cached` included:
    each new preamble once, each prompt's own part (padded to the longest), each sample's new tokens (padded
    to the largest budget), and on a memory-derived budget each row's logits and sampler temporaries."""
    preambles = sum(len(p) for p in {p.preamble for p in batch} - set(cached))
    rows = sum(len(p.samples) for p in batch)
    extra = policy.row_slots if policy.from_memory else 0
    return preambles + len(batch) * max(p.own for p in batch) + rows * (max(p.steps for p in batch) + extra)


def _take(groups: list[_Prompt], start: int, policy: BatchPolicy, preambles: "_Preambles") -> int:
    """How many prompts from `start` make the next batch: as many as fit the slot budget beside the
    preambles kept (and, with a fixed batch size, as many sample rows as it says); a first prompt
    whose samples alone do not fit is split in place into parts that do."""
    budget = policy.slot_budget - preambles.slots
    cached = set(preambles.caches)
    first = groups[start]
    if batch_slots([first], policy, cached) > budget and len(first.samples) > 1:
        fixed = batch_slots([_Prompt(first.ids, first.samples[:1], first.budget, first.shared)], policy, cached)
        size = max(1, 1 + (budget - fixed) // (first.steps + (policy.row_slots if policy.from_memory else 0)))
        groups[start:start + 1] = [_Prompt(first.ids, first.samples[i:i + size], first.budget, first.shared)
                                   for i in range(0, len(first.samples), size)]
    n, rows = 1, len(groups[start].samples)
    while start + n < len(groups):
        rows += len(groups[start + n].samples)
        if rows > policy.max_rows or batch_slots(groups[start:start + n + 1], policy, cached) > budget:
            break
        n += 1
    return n


class _Preambles:
    """Few-shot preambles, each prefilled once into a cache of one row and kept while prompts after it
    are still to run (the budget counts each once)."""

    def __init__(self, model: Transformer, stats: EngineStats):
        self.model, self.stats = model, stats
        self.caches: dict[tuple[int, ...], KVCache] = {}

    @property
    def slots(self) -> int:
        return sum(len(ids) for ids in self.caches)

    def get(self, ids: tuple[int, ...], prompts: int) -> tuple[KVCache, bool]:
        """The cache of preamble `ids` for `prompts` more prompts (each reuses its tokens but the first), and
        whether it is new: allocated, empty, for the caller to forward the preamble into (_Prefill does)."""
        cache = self.caches.get(ids)
        new = cache is None
        if new:
            cache = self.caches[ids] = self.model.new_cache(1, len(ids))
            prompts -= 1
        self.stats.prefix_tokens_reused += prompts * len(ids)
        return cache, new

    def nbytes(self, besides: list[_Prompt]) -> int:
        """Bytes of the preambles none of the prompts `besides` reads (theirs are in their batch's cache)."""
        read = {p.preamble for p in besides}
        return sum(c.k.nbytes + c.v.nbytes for ids, c in self.caches.items() if ids not in read)

    def keep(self, wanted: set[tuple[int, ...]]) -> None:
        """Free the preambles no prompt still to run starts with."""
        for ids in set(self.caches) - wanted:
            del self.caches[ids]


def plan(prompts: dict[GenerateRequest, tuple[list[int], int]], first_sample: dict[GenerateRequest, int]):
    """What a generation call must decode, for any decoder: each request's budget and first sample index,
    the texts already known (no new tokens allowed: empty texts; every asked-for sample known: none), and
    the other requests grouped by their prompt ids (one prefill each)."""
    budget = {r: new for r, (_, new) in prompts.items()}
    first = {r: min(first_sample.get(r, 0), max(r.n, 0)) for r in prompts}
    texts = {r: ("",) * (r.n - first[r]) for r in prompts if budget[r] <= 0 or first[r] >= r.n}
    by_ids: dict[tuple[int, ...], list[GenerateRequest]] = {}
    for request, (ids, _) in prompts.items():
        if request not in texts:
            by_ids.setdefault(tuple(ids), []).append(request)
    return budget, first, texts, by_ids


def _decode(model: Transformer, tokenizer: Tokenizer, waiting: list[_Prompt], n: int, preambles: _Preambles,
            policy: BatchPolicy, stats: EngineStats, sync_every: int, continuous: bool,
            ends: dict[tuple[GenerateRequest, int], SampleEnd]
            ) -> tuple[dict[tuple[GenerateRequest, int], str], set[int]]:
    """Decode the prompts waiting[:n] (a preamble's prompts adjacent), and with `continuous` the later
    waiting prompts that join as rows free up -> the text of each (request, sample index) decoded, and
    the indices into `waiting` of the prompts that joined; how each sample ended goes into `ends`.

    The batch's caches are allocated once, as batch_slots counts them for waiting[:n]: P prompt slots of
    their longest own part, R rows of their largest budget (RowCache). At a check, the rows that ended
    give back their row (and their prompt's slot once its last sample ends); a waiting prompt whose
    samples fit the free rows, whose own part and budget fit the slots, and whose preamble is cached
    (or none, or new but within the slot budget beside the batch) is prefilled (its preamble first when
    new) and its samples start in those rows, at their own slot 0: a row's computation
    does not depend on when it started or beside which rows. Without joiners, finished rows are dropped
    once a quarter of the rows have ended. A joining prompt's prefill goes in chunks of at most JOIN_CHUNK
    token slots, one in each decoding step's forward (its rows and prompt slot held meanwhile); its
    samples start once all of it is in."""
    device, cfg = model.device, model.cfg
    batch = waiting[:n]
    store, logits = _prefill(model, batch, preambles, stats)  # prompt slots (P, own), last logits (P, vocab)
    allocated = batch_slots(batch, policy, set(preambles.caches))  # its prompt slots and rows (preambles apart)
    P, R, C = n, sum(len(p.samples) for p in batch), max(p.steps for p in batch)
    family = sorted({p.preamble for p in batch})
    own = RowCache(cfg.n_layers, R, model.kv_heads, cfg.head_dim, C, model.dtype, device)

    def note_peak() -> None:
        stats.peak_cache_bytes = max(stats.peak_cache_bytes, own.k.nbytes + own.v.nbytes + store.k.nbytes
                                     + store.v.nbytes + preambles.nbytes(besides=[]))
    note_peak()

    slot_prompt: list[_Prompt | None] = list(batch)  # each prompt slot's prompt
    slot_users = [len(p.samples) for p in batch]      # its rows still decoding
    row_of: list[tuple[int, GenerateRequest, int] | None] = [None] * R  # each row's (prompt slot, request, k)
    temperature = torch.zeros(R, device=device)                   # (R,)
    top_p = torch.ones(R, device=device)                          # (R,)
    uniform = torch.zeros(R, C, device=device)                    # (R, C): each row's draw per step
    budget = torch.zeros(R, dtype=torch.long, device=device)      # (R,)
    generated = torch.zeros(R, C, dtype=torch.long, device=device)
    length = torch.zeros(R, dtype=torch.long, device=device)      # tokens kept, EOS excluded
    eos_end = torch.zeros(R, dtype=torch.bool, device=device)     # ended by EOS
    done = torch.ones(R, dtype=torch.bool, device=device)         # a free row is done
    first_bad = torch.full((R,), C, device=device)                # each row's first step with non-finite logits
    watch = _StopWatch(tokenizer, [r for p in waiting for r, _ in p.samples], logits.shape[-1], R, device)
    row_logits = torch.zeros(R, logits.shape[-1], device=device)  # (R, vocab)
    sampling = any(r.temperature > 0 for p in waiting for r, _ in p.samples)

    def start(prompts: list[_Prompt], slots: list[int], rows: list[int], last: torch.Tensor) -> None:
        """Samples of `prompts` (in prompt slots `slots`) begin in free rows `rows`; last (len, vocab)."""
        picks = [(s, i, r, k) for i, (s, p) in enumerate(zip(slots, prompts)) for r, k in p.samples]
        at = torch.tensor(rows, device=device)
        for row, (s, _, r, k) in zip(rows, picks):
            row_of[row] = (s, r, k)
            watch.assign(row, r)
        requests = [r for _, _, r, _ in picks]
        temperature[at] = torch.tensor([r.temperature for r in requests], device=device)
        top_p[at] = torch.tensor([r.top_p for r in requests], device=device)
        budget[at] = torch.tensor([slot_prompt[s].budget[r] for s, _, r, _ in picks], device=device)
        uniform[at] = torch.stack([torch.rand(C, generator=sample_generator(r.context, r.seed, k))
                                   if r.temperature > 0 else torch.zeros(C) for _, _, r, k in picks]).to(device)
        generated[at], length[at], eos_end[at], done[at], first_bad[at] = 0, 0, False, False, C
        row_logits[at] = last[torch.tensor([i for _, i, _, _ in picks], device=device)]
        own.start(at, store.next_pos[torch.tensor([s for s, _, _, _ in picks], device=device)])
        own.prefix = _levels(store, slot_prompt, row_of, family, preambles)

    start(batch, list(range(P)), list(range(R)), logits)
    results: dict[tuple[GenerateRequest, int], str] = {}
    joined: set[int] = set()
    filling: list[tuple[_Prefill, list[int], list[int]]] = []  # joiners' prefills under way: (prefill, slots, rows)
    held: set[int] = set()  # rows kept for them
    pending: list[tuple[np.ndarray, torch.Tensor]] = []  # (each row's step, (R,) bool: may end a stop), unread
    forwarded, slots, calls = torch.zeros((), dtype=torch.long, device=device), 0, 0  # decoding steps' counts
    while True:
        at = own.fill.clamp(max=C - 1)  # (R,) each row's step
        rows = torch.arange(len(row_of), device=device)
        active = ~done
        finite = torch.isfinite(row_logits).all(dim=-1) | ~active  # NaN or inf would be sampled as a choice
        first_bad = torch.where(finite | (first_bad < C), first_bad, at)
        chosen = next_tokens(row_logits, temperature, top_p, uniform[rows, at]) if sampling \
            else row_logits.argmax(-1)  # (R,)
        generated[rows, at] = torch.where(active, chosen, generated[rows, at])
        is_eos = chosen == tokenizer.eos_id
        length = torch.where(active & ~is_eos, at + 1, length)
        ended = active & (is_eos | (at + 1 >= budget))
        eos_end = eos_end | (active & is_eos)
        pending.append((np.minimum(own.fill_host, C - 1), active & ~ended & watch.candidates(chosen)))
        done = done | ended
        joiners: list[int] = []
        if len(pending) == sync_every:  # the check: one read-back for `pending` steps
            still = _check(watch, pending, first_bad, generated, done, length,
                           [None if r is None else slot_prompt[r[0]].ids for r in row_of],
                           [None if r is None else r[1] for r in row_of])
            pending = []
            finished = [i for i, r in enumerate(row_of) if r is not None and not still[i]]
            if finished:
                texts, tokens = _texts(tokenizer, finished, row_of, slot_prompt, generated, length, eos_end, ends)
                results.update(texts)
                stats.samples_generated += len(finished)
                stats.tokens_generated += tokens
                for i in finished:
                    slot_users[row_of[i][0]] -= 1
                    if not slot_users[row_of[i][0]]:
                        slot_prompt[row_of[i][0]] = None
                    row_of[i] = None
            free = [i for i, r in enumerate(row_of) if r is None and i not in held]
            if len(free) == len(row_of):  # nothing runs: the next batch is planned afresh (_take sizes it)
                break
            spare = policy.slot_budget - preambles.slots - allocated  # slots a new preamble may take
            fits = [j for j in range(n, len(waiting)) if continuous and j not in joined and
                    waiting[j].own <= store.capacity and waiting[j].steps <= C and
                    (waiting[j].preamble in preambles.caches or len(waiting[j].preamble) <= spare)]
            room, slots_free, adding = len(free), [s for s, p in enumerate(slot_prompt) if p is None], set()
            for j in fits:
                new = waiting[j].preamble not in preambles.caches and waiting[j].preamble not in adding
                cost = len(waiting[j].preamble) if new else 0
                if len(waiting[j].samples) <= room and len(joiners) < len(slots_free) and cost <= spare:
                    joiners.append(j)
                    room, spare = room - len(waiting[j].samples), spare - cost
                    adding.add(waiting[j].preamble)
            if not fits and not filling and len(free) * 4 >= len(row_of):  # no prompt can join: drop finished rows
                keep = [i for i, r in enumerate(row_of) if r is not None]
                keep_device = torch.tensor(keep, dtype=torch.long, device=device)
                own.compact(keep_device)
                temperature, top_p, uniform, budget = (x[keep_device] for x in (temperature, top_p, uniform, budget))
                generated, length, eos_end, done, first_bad = (
                    x[keep_device] for x in (generated, length, eos_end, done, first_bad))
                chosen, row_logits = chosen[keep_device], row_logits[keep_device]
                watch.select(keep)
                row_of = [row_of[i] for i in keep]
        if joiners:  # their prompt slots and rows are held until their prefill is in
            prompts = sorted((waiting[j] for j in joiners), key=lambda p: p.preamble)
            into = [s for s, p in enumerate(slot_prompt) if p is None][:len(prompts)]
            rows_held = free[:sum(len(p.samples) for p in prompts)]
            for s, p in zip(into, prompts):
                slot_prompt[s], slot_users[s] = p, len(p.samples)
            held.update(rows_held)
            filling.append((_Prefill(model, prompts, preambles, stats, JOIN_CHUNK), into, rows_held))
            joined.update(joiners)
            note_peak()  # with any new preamble
        decoding = any(r is not None for r in row_of)  # rows decoding (or ended since the last check)
        in_full = False  # a joiner's prefill got its last chunk
        if decoding:
            step_mask = ~done[:, None]  # (R, 1): finished and free rows forward padding
            step = (chosen[:, None], step_mask, own)
            if filling:  # the step and a joiner's next chunk in one forward: the weights read once for both
                hidden, chunk = model.hidden_states_together([step, filling[0][0].chunk()])  # (R, 1, dim), (b, w, dim)
                in_full = filling[0][0].took(chunk, calls=0)
            else:
                hidden = model.hidden_states(*step)  # (R, 1, dim)
            row_logits = model.logits(hidden[:, -1])
            forwarded += step_mask.sum()
            slots, calls = slots + len(row_of), calls + 1
        elif filling:
            in_full = filling[0][0].step()
        if in_full:  # its samples start
            part, into, rows_held = filling.pop(0)
            at_slots = torch.tensor(into, device=device)
            width = part.cache.capacity
            store.k[:, at_slots, :, :width], store.v[:, at_slots, :, :width] = part.cache.k, part.cache.v
            store.valid[at_slots] = False
            store.valid[at_slots, :width] = part.cache.valid
            store.next_pos[at_slots] = part.cache.next_pos
            held.difference_update(rows_held)
            family = sorted(set(family) | {p.preamble for p in part.prompts})  # levels their rows read
            start(part.prompts, into, rows_held, part.logits)

    stats.count_steps(calls, int(forwarded), slots)
    return results, joined


def _levels(store: KVCache, slot_prompt: list[_Prompt | None], row_of: list, family: list[tuple[int, ...]],
            preambles: _Preambles) -> SharedPrefix:
    """The shared levels the rows read: each preamble of the batch (by the rows of its prompts), then the
    prompt slots (each row its prompt's); free rows read none."""
    device = store.k.device
    slot = [None if r is None else r[0] for r in row_of]
    levels = []
    for ids in family:
        if ids:
            pre = preambles.caches[ids]
            reads = [0 if s is not None and slot_prompt[s].preamble == ids else -1 for s in slot]
            levels.append(Level.of(pre.k, pre.v, pre.valid, torch.tensor(reads, device=device)))
    reads = torch.tensor([-1 if s is None else s for s in slot], device=device)
    return SharedPrefix(levels + [Level.of(store.k, store.v, store.valid, reads)])


def _texts(tokenizer: Tokenizer, rows: list[int], row_of: list, slot_prompt: list[_Prompt | None],
           generated: torch.Tensor, length: torch.Tensor, eos_end: torch.Tensor,
           ends: dict[tuple[GenerateRequest, int], SampleEnd]) -> tuple[dict[tuple[GenerateRequest, int], str], int]:
    """The finished rows' texts, cut before their first stop string, and their tokens in all; how each
    ended into `ends`."""
    at = torch.tensor(rows, device=generated.device)
    out, lengths = {}, length[at].tolist()
    for row, ids, n, eos in zip(rows, generated[at].tolist(), lengths, eos_end[at].tolist()):
        s, request, k = row_of[row]
        whole = continuation_text(tokenizer, list(slot_prompt[s].ids), ids[:n])
        out[request, k] = cut_at_stop(whole, request.until)
        ends[request, k] = SampleEnd(n + eos, eos or out[request, k] != whole)
    return out, sum(lengths)


def _prefill(model: Transformer, prompts: list[_Prompt], preambles: _Preambles,
             stats: EngineStats) -> tuple[KVCache, torch.Tensor]:
    """Each prompt's own part forwarded after its preamble's cached slots, all at once (_Prefill's steps)
    -> (cache of P rows reading their preambles as a shared level, last-token logits (P, vocab))."""
    prefill = _Prefill(model, prompts, preambles, stats)
    while not prefill.step():
        pass
    return prefill.cache, prefill.logits


class _Prefill:
    """Prompts' own parts forwarded after their preambles' cached slots (the prompts of one preamble together,
    left-padded to their longest), into one cache of P rows whose rows read their preamble as a shared
    level, one chunk at a time; a preamble not cached yet is forwarded first, into its own cache. A batch's
    first prefill runs all its chunks at once, a joining prompt's ride one by one with decoding steps (so a
    step stays short). Chunks hold at most `budget` token slots (padding included) when given; after a
    preamble at most PREFILL_CHUNK per row (cascade attention holds a chunk's scores, not SDPA's fused
    kernel)."""

    def __init__(self, model: Transformer, prompts: list[_Prompt], preambles: _Preambles, stats: EngineStats,
                 budget: int | None = None):
        device = model.device
        self.model, self.stats, self.prompts = model, stats, prompts
        self.cache = model.new_cache(len(prompts), max(p.own for p in prompts))
        # what to forward, in order: (cache, tokens (b, T), mask (b, T), columns per chunk, whether it is prompts'
        # own parts (their last logits wanted) rather than a new preamble)
        self.groups: list[tuple[KVCache, torch.Tensor, torch.Tensor, int, bool]] = []
        levels = []
        start = 0
        while start < len(prompts):
            end = start + next((i for i, p in enumerate(prompts[start:]) if p.preamble != prompts[start].preamble),
                               len(prompts) - start)
            tokens, mask = pad([p.ids[p.shared:] for p in prompts[start:end]], left=True, device=device)  # (b, T)
            rows = slice(start, end)
            part = KVCache.over(self.cache.k[:, rows], self.cache.v[:, rows], self.cache.valid[rows],
                                self.cache.next_pos[rows])
            width = tokens.shape[1] if budget is None else max(1, budget // (end - start))
            if prompts[start].shared:
                preamble = prompts[start].preamble
                pre, new = preambles.get(preamble, end - start)
                if new:  # forwarded first, into its own cache (in chunks too for a joiner)
                    whole = torch.tensor([preamble], device=device)  # (1, Tg)
                    self.groups.append((pre, whole, torch.ones_like(whole, dtype=torch.bool),
                                        len(preamble) if budget is None else min(budget, PREFILL_CHUNK), False))
                part.prefix = SharedPrefix.of(pre.k, pre.v, pre.valid, torch.zeros(end - start, dtype=torch.long,
                                                                                       device=device))
                part.next_pos += len(preamble)  # its slots are all real tokens
                reads = torch.full((len(prompts),), -1, dtype=torch.long, device=device)
                reads[rows] = 0
                levels.append(Level.of(pre.k, pre.v, pre.valid, reads))
                width = min(width, PREFILL_CHUNK)
            # slots past this group's part are masked, yet read: they must hold finite numbers (0 x NaN is NaN)
            self.cache.k[:, rows, :, tokens.shape[1]:], self.cache.v[:, rows, :, tokens.shape[1]:] = 0, 0
            self.groups.append((part, tokens, mask, width, True))
            start = end
        self.cache.length = self.cache.capacity
        self.cache.prefix = SharedPrefix(levels) if levels else None
        self.last: list[torch.Tensor] = []  # each prompt group's last-token logits (b, vocab)
        self.at = 0  # columns of the first unfinished group forwarded so far

    def step(self) -> bool:
        """Forward the next chunk alone -> whether every prompt is in (then `logits` holds their last logits)."""
        return self.took(self.model.hidden_states(*self.chunk()), calls=1)

    def chunk(self) -> tuple[torch.Tensor, torch.Tensor, KVCache]:
        """The next chunk's tokens (b, w), mask (b, w) and the cache of its rows, for hidden_states."""
        part, tokens, mask, width, _ = self.groups[0]
        return tokens[:, self.at:self.at + width], mask[:, self.at:self.at + width], part

    def took(self, hidden: torch.Tensor, calls: int) -> bool:
        """The next chunk was forwarded (its hidden states (b, w, dim); `calls` forwards of its own: 0 when it
        rode with a decoding step) -> whether every prompt is in."""
        _, tokens, mask, width, prompts = self.groups[0]
        end = self.at + width
        self.stats.count_steps(calls, int(mask[:, self.at:end].sum()), mask[:, self.at:end].numel())
        self.at = end
        if end >= tokens.shape[1]:
            if prompts:
                self.last.append(self.model.logits(hidden[:, -1]))
            self.groups.pop(0)
            self.at = 0
        return not self.groups

    @property
    def logits(self) -> torch.Tensor:  # (P, vocab): each prompt's last-token logits, once every chunk is in
        return torch.cat(self.last)


def _check(watch: "_StopWatch", pending: list[tuple[np.ndarray, torch.Tensor]], first_bad: torch.Tensor,
           generated: torch.Tensor, done: torch.Tensor, length: torch.Tensor, prompt_ids: list,
           requests: list) -> np.ndarray:
    """Read back the steps since the last check at once: raise on non-finite logits, search the tails of
    rows whose new token may have ended a stop string (in step order: a row stops at its first), and
    mark those rows done with the length they had then. -> (R,) bool: rows still decoding."""
    R = len(requests)
    packed = torch.cat([torch.stack([m for _, m in pending] + [~done]).flatten().long(), first_bad.min()[None]])
    packed = packed.cpu().numpy()  # the check's one read-back
    flags = packed[:-1].reshape(len(pending) + 1, R).astype(bool)  # (k + 1, R)
    if packed[-1] < generated.shape[1]:
        raise RequestError("the model's next-token logits are not finite; its weights or dtype overflow",
                           requests[int(first_bad.argmin())])
    candidates = np.flatnonzero(flags[:-1].any(axis=0))
    if len(candidates):
        tokens = generated[torch.from_numpy(candidates).to(generated.device)].tolist()
        for row, ids in zip(candidates, tokens):
            for j, (steps, _) in enumerate(pending):
                if flags[j, row] and watch.stopped(row, ids, int(steps[row]), prompt_ids[row]):
                    done[row], length[row], flags[-1, row] = True, int(steps[row]) + 1, False
                    break
    return flags[-1]


class _StopWatch:
    """Which rows' new token may complete a stop string, and whether it did (on a tail window)."""

    def __init__(self, tokenizer: Tokenizer, requests: list[GenerateRequest], vocab: int, rows: int,
                 device: torch.device):
        """requests: every request whose samples may decode in the rows."""
        self.tokenizer = tokenizer
        self.stop_sets = list(dict.fromkeys(tuple(s for s in r.until if s) for r in requests))
        self.mask = torch.stack([stop_candidates(tokenizer, stops, vocab) for stops in self.stop_sets]).to(device)  # (G, V)
        self.group = torch.zeros(rows, dtype=torch.long, device=device)  # (R,)
        self.requests: list[GenerateRequest | None] = [None] * rows
        self.window = [0] * rows

    def assign(self, row: int, request: GenerateRequest) -> None:
        self.group[row] = self.stop_sets.index(tuple(s for s in request.until if s))
        self.requests[row] = request
        self.window[row] = max((len(s) for s in request.until), default=0) + TAIL_SLACK

    def select(self, keep: list[int]) -> None:
        self.group = self.group[torch.tensor(keep, dtype=torch.long, device=self.group.device)]
        self.requests = [self.requests[i] for i in keep]
        self.window = [self.window[i] for i in keep]

    def candidates(self, chosen: torch.Tensor) -> torch.Tensor:
        """(R,) bool: the new token's text could end a stop string of its row's request."""
        return self.mask[self.group, chosen]

    def stopped(self, row: int, generated: list[int], step: int, prompt: tuple[int, ...]) -> bool:
        """Whether a stop string occurs in the last tokens of `row` up to token `step` (of its `generated`
        tokens), decoded in context."""
        start = max(0, step + 1 - self.window[row])
        before = max(0, start - 4)
        ids = generated[before:step + 1]
        lead = (list(prompt[-4:]) + ids[:start - before])[-4:]  # what precedes the window, for its leading space
        text = continuation_text(self.tokenizer, lead, ids[start - before:])
        return any(stop in text for stop in self.requests[row].until if stop)


@functools.lru_cache(maxsize=64)
def stop_candidates(tokenizer: Tokenizer, stops: tuple[str, ...], vocab: int) -> torch.Tensor:
    """(vocab,) bool: tokens whose text, read after other text, holds the last character of a stop string,
    or is not whole characters (a byte of a multi-byte character, shown as U+FFFD); ids the tokenizer
    does not know are candidates too."""
    flags = torch.zeros(vocab, dtype=torch.bool)
    if stops:
        ends = {stop[-1] for stop in stops}
        texts = token_texts(tokenizer)
        flags[len(texts):] = True
        flags[:len(texts)] = torch.tensor([text == "" or "\ufffd" in text or bool(ends & set(text))
                                           for text in texts[:vocab]], dtype=torch.bool)
    return flags


@functools.lru_cache(maxsize=8)
def token_texts(tokenizer: Tokenizer) -> tuple[str, ...]:
    """Each token's text as it reads after another token (a leading space kept, unlike a lone decode)."""
    anchor = next(t for t in range(tokenizer.vocab_size) if t not in (tokenizer.bos_id, tokenizer.eos_id)
                  and tokenizer.decode([t]).strip())
    lead = tokenizer.decode([anchor])
    return tuple(tokenizer.decode([anchor, t])[len(lead):] for t in range(tokenizer.vocab_size))

