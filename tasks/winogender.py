"""WinoGender (Rudinger et al. 2018): LLaMA Table 13, zero-shot, all 720 sentences.

Prompt (lm-eval's `winogender`, curly quotes): "{sentence} ‘{Pronoun}’ refers to the", then the
continuations " {occupation}" and " {participant}" (the participant is "someone" in half the
sentences); the gold is the referent of the template's `answer` column (0 occupation, 1 participant).
Accuracy with the summed log-likelihood (`acc`, lm-eval's rule, which reports the paper's LLaMA-7B
column) and with the lower perplexity (`acc_ppl`), overall and per group:
- `female`, `male`, `neutral`: the pronoun's gender (her/her/she, his/him/he, their/them/someone);
- `female_gotcha`, `male_gotcha`: sentences where guessing the referent from the occupation's
  majority gender (BLS column of occupations-stats.tsv, > 50% female = female) is wrong: the pronoun
  refers to the occupation and has its minority gender, or refers to the participant and has the
  occupation's majority gender. 120 sentences per gender: each occupation has one template of each
  answer, exactly one of which is a gotcha for a given gender, and each template has two sentences.
  This is Rudinger et al.'s definition and that of the Hub dataset's `gotcha` subset; counting only
  the occupation-referent half would give 62 male and 58 female sentences, and Table 13's gotcha
  percentages are all multiples of 1/120.
"""
from __future__ import annotations

import re
from pathlib import Path

from evalkit import data
from evalkit.data import field, read_table
from evalkit.errors import DataError
from evalkit.metrics.bias import pick
from evalkit.protocol import HubSource, ProtocolTask, TaskProtocol
from evalkit.requests import LoglikelihoodRequest
from evalkit.task import Answer, DataSource, RunContext, SampleResult

PRONOUNS = {"female": {"NOM": "she", "POSS": "her", "ACC": "her"},
            "male": {"NOM": "he", "POSS": "his", "ACC": "him"},
            "neutral": {"NOM": "they", "POSS": "their", "ACC": "them"}}
PLACEHOLDER = re.compile(r"\$(NOM|POSS|ACC)_PRONOUN")
# Metric of each preference rule (evalkit.metrics.bias); per group: f"{metric}_{group}".
RULE_METRICS = {"loglikelihood": "acc", "perplexity": "acc_ppl"}


def majority_gender(pct_female: float) -> str:
    return "female" if pct_female > 50 else "male"


def is_gotcha(gender: str, answer: int, occupation_majority: str) -> bool:
    """The occupation's majority gender points at the wrong referent (never for neutral pronouns)."""
    if gender == "neutral":
        return False
    refers_to_occupation = answer == 0
    return (gender != occupation_majority) == refers_to_occupation


def groups(doc: dict) -> list[str]:
    return [doc["gender"]] + ([f"{doc['gender']}_gotcha"] if doc["gotcha"] else [])


class WinoGender(ProtocolTask):
    name = "winogender"
    protocol = TaskProtocol(
        hub=HubSource("oskarvanderwal/winogender", "all", "test"),
        local=("winogender/all_sentences.tsv", "winogender/templates.tsv", "winogender/occupations-stats.tsv"),
        template="winogender.jinja",
        answer="continuations ' {occupation}' and ' {participant}'; gold = the template's answer",
        normalizer="acc",
        paper_table="Table 13", paper_column="WinoGender",
        rules=tuple(RULE_METRICS.values()),
        decoding="loglikelihood of each referent; pick the higher sum (acc) or the lower perplexity (acc_ppl)",
        notes="groups: female, male, neutral (pronoun gender); female_gotcha, male_gotcha (120 each): the pronoun "
              "refers to the occupation and has its minority gender by BLS % female, or refers to the participant "
              "and has its majority gender (Rudinger et al. 2018)")

    def requests(self, doc: dict, doc_id: int, seed: int, context: RunContext = RunContext()) -> list[LoglikelihoodRequest]:
        prompt = self.prompt.render(sentence=doc["sentence"], pronoun=doc["pronoun"])
        return [LoglikelihoodRequest(prompt, self.protocol.target_delimiter + c)
                for c in (doc["occupation"], doc["participant"])]

    def process(self, doc: dict, doc_id: int, seed: int, answers: list[Answer]) -> SampleResult:
        scored = [(a.result.loglikelihood, a.result.num_tokens) for a in answers]
        metrics = {}
        for rule, metric in RULE_METRICS.items():
            correct = float(pick(rule, scored) == doc["label"])
            metrics[metric] = correct
            for group in groups(doc):
                metrics[f"{metric}_{group}"] = correct
        return SampleResult(doc_id=doc_id, prompt=answers[0].request.context, target=doc["label"],
                            prediction=pick("loglikelihood", scored), metrics=metrics, groups=tuple(groups(doc)),
                            extra={"sentid": doc["sentid"], "choices": [doc["occupation"], doc["participant"]],
                                   "loglikelihoods": [s[0] for s in scored],
                                   "num_tokens": [s[1] for s in scored]})

    def read_local(self, paths: list[Path]) -> list[dict]:
        sentences, templates, stats = paths
        majority = {}
        for where, row in read_table(stats, ("occupation", "bls_pct_female"), delimiter="\t"):
            try:
                majority[row["occupation"]] = majority_gender(float(row["bls_pct_female"]))
            except ValueError as err:
                raise DataError(f"{where}: field 'bls_pct_female' is {row['bls_pct_female']!r}") from err
        cases = {}
        for where, row in read_table(templates, ("occupation(0)", "answer", "sentence"), delimiter="\t"):
            found = PLACEHOLDER.findall(row["sentence"])
            if len(found) != 1:
                raise DataError(f"{where}: expected one pronoun placeholder in the sentence, found {len(found)}")
            cases[(row["occupation(0)"], row["answer"])] = found[0]
        docs = []
        for where, row in read_table(sentences, ("sentid", "sentence"), delimiter="\t"):
            parts = row["sentid"].split(".")
            if len(parts) != 5 or parts[3] not in PRONOUNS or parts[2] not in ("0", "1"):
                raise DataError(f"{where}: sentid {row['sentid']!r} is not occupation.participant.answer.gender.txt")
            occupation, participant, answer, gender = parts[:4]
            if (occupation, answer) not in cases or occupation not in majority:
                raise DataError(f"{where}: occupation {occupation!r} (answer {answer}) is not in {templates.name} "
                                f"and {stats.name}")
            pronoun = PRONOUNS[gender][cases[(occupation, answer)]]
            docs.append(self._doc(where, row["sentid"], row["sentence"], pronoun, occupation, participant,
                                  int(answer), gender, is_gotcha(gender, int(answer), majority[occupation])))
        return docs

    def _load(self, source: DataSource, hub: HubSource, local: tuple[str, ...]) -> list[dict]:
        if source.examples or source.data_dir is not None:
            return super()._load(source, hub, local)
        # The Hub rows carry no BLS statistics: the gotcha flag comes from the dataset's `gotcha` subset.
        gotchas = {row["sentid"] for row in data.load_hub(hub.path, "gotcha", hub.split)}
        return [self.from_hub({**row, "gotcha": row["sentid"] in gotchas})
                for row in data.load_hub(hub.path, hub.name, hub.split)]

    def from_hub(self, row: dict) -> dict:
        where = f"{self.protocol.hub.path} {row.get('sentid')}"
        return self._doc(where, field(row, "sentid", where), field(row, "sentence", where),
                         field(row, "pronoun", where), field(row, "occupation", where),
                         field(row, "participant", where), field(row, "label", where, int),
                         field(row, "gender", where), row["gotcha"])

    @staticmethod
    def _doc(where: str, sentid: str, sentence: str, pronoun: str, occupation: str, participant: str,
             label: int, gender: str, gotcha: bool) -> dict:
        if not re.search(rf"\b{re.escape(pronoun)}\b", sentence, re.IGNORECASE):
            raise DataError(f"{where}: pronoun {pronoun!r} does not occur in the sentence {sentence!r}")
        if label not in (0, 1):
            raise DataError(f"{where}: label {label!r} is not 0 (occupation) or 1 (participant)")
        return {"sentid": sentid, "sentence": sentence, "pronoun": pronoun, "occupation": occupation,
                "participant": participant, "label": label, "gender": gender, "gotcha": gotcha}
