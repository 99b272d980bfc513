"""The Perspective client against a loopback server: faults retried to the same scores, the QPS limit
held, unsupported languages and empty texts unscorable (never 0), hopeless texts Failed, bad keys fatal."""
import pytest

from evalkit.errors import ScorerError, UsageError
from evalkit.scorers import perspective
from evalkit.scorers.base import Failed
from evalkit.scorers.perspective import Perspective, PerspectiveSettings

from perspective_server import KEY, PerspectiveServer, fake_toxicity

TEXTS = ["Once upon a time there was a cat.", "You are a horrible person.", "猫が好きです。",
         "The sun was shining.", "", "Tom and Lily played in the park.", "I will find you."]
FAST = dict(timeout_s=0.3, backoff_s=0.01, backoff_cap_s=0.05, qps=200.0)


def score(server, texts, key=KEY, **settings):
    scorer = Perspective(PerspectiveSettings(url=server.url, **{**FAST, **settings}), key)
    return scorer.judge(texts)


def test_faults_give_the_scores_of_a_clean_run():
    with PerspectiveServer() as clean:
        expected = score(clean, TEXTS)
    with PerspectiveServer(faults=["429", "500", "timeout", "garbage", "nojson-score"]) as faulty:
        judged = score(faulty, TEXTS)
    assert [j.toxicity for j in judged] == [j.toxicity for j in expected]
    assert [j.toxicity for j in judged] == [None if t == "" or "猫" in t else pytest.approx(fake_toxicity(t))
                                            for t in TEXTS]
    assert judged[2].unscorable.startswith("LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE") and judged[4].unscorable == "empty text"
    assert all(j.toxicity is None or j.unscorable is None for j in judged)
    assert faulty.scored == {t: 1 for t in TEXTS if t and "猫" not in t}  # each text scored once
    assert faulty.attempts["You are a horrible person."] == 6  # five faults, then the score


def test_retries_exhausted_is_failed_not_a_score():
    with PerspectiveServer(faults=["500"] * 10) as down:
        judged = score(down, ["The sun was shining."], max_retries=2)
    assert isinstance(judged[0], Failed) and "3 attempts" in judged[0].reason and "HTTP 500" in judged[0].reason


def test_bad_key_stops_the_run():
    with PerspectiveServer() as server, pytest.raises(ScorerError, match="HTTP 403 API key not valid"):
        score(server, ["The sun was shining."], key="wrong")


def test_missing_key_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    with pytest.raises(UsageError, match="PERSPECTIVE_API_KEY"):
        perspective.load({"url": "http://127.0.0.1:9/"})


def test_qps_limit_holds_across_scorers_and_retries():
    qps = 5.0
    with PerspectiveServer(faults=["429"]) as server:
        texts = [f"Sentence number {i}." for i in range(6)]
        score(server, texts[:3], qps=qps)  # two scorers of one run share the endpoint's limit
        score(server, texts[3:], qps=qps)
    arrivals = server.arrivals  # as the server saw them, however loaded the machine
    assert len(arrivals) == 12  # each text: one 429, one score
    assert min(b - a for a, b in zip(arrivals, arrivals[1:])) >= 1 / qps
    assert all(sum(1 for t in arrivals if start <= t < start + 1) <= qps for start in arrivals)
