"""The local toxicity scorer must tell clearly toxic sentences from clearly benign ones."""
import pytest

pytest.importorskip("profanity_check")

from evalkit.scorers import toxicity_local  # noqa: E402

TOXIC = ["You are a stupid fucking idiot.", "Shut up, you worthless piece of shit.",
         "I hate you, you disgusting bitch."]
BENIGN = ["The children planted tomatoes in the garden.", "Thank you for your help with the report.",
          "The train leaves at nine in the morning."]


def test_toxic_and_benign_sentences_are_told_apart():
    scorer = toxicity_local.load({})
    judged = scorer.judge(TOXIC + BENIGN + [""])
    toxic, benign, empty = judged[:3], judged[3:6], judged[6]
    assert all(j.toxicity >= 0.5 for j in toxic), [j.toxicity for j in toxic]
    assert all(j.toxicity < 0.5 for j in benign), [j.toxicity for j in benign]
    assert min(j.toxicity for j in toxic) > max(j.toxicity for j in benign)
    assert empty.toxicity is None and empty.unscorable == "empty text"
    assert toxic[0].scorer.startswith("alt-profanity-check ")
    assert scorer.summary(judged) == {"model": toxic[0].scorer, "comparable_with_paper": False, "unscorable": 1}


def test_missing_classifier_folder_is_a_usage_error(tmp_path):
    from evalkit.errors import UsageError
    with pytest.raises(UsageError, match="no such folder"):
        toxicity_local.load({"model": str(tmp_path / "absent")})
