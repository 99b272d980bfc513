"""`run_eval.py train-tokenizer`: trains LLaMA-style BPE; bad input is one line on stderr and exit 2."""
from __future__ import annotations

import subprocess
import sys

import sentencepiece as spm

from tests.conftest import REPO

CORPUS = "\n".join(f"Line {i}: the quick brown fox jumps over {i * 37} lazy dogs, naïvely." for i in range(300))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_eval.py", "train-tokenizer", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_trains_with_llama_settings(tmp_path):
    (tmp_path / "corpus.txt").write_text(CORPUS)
    done = cli("--input", str(tmp_path / "corpus.txt"), "--vocab-size", "340", "--output", str(tmp_path / "out/tok"))
    assert done.returncode == 0, done.stderr
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "out/tok.model"))
    assert sp.vocab_size() == 340 and (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert sp.id_to_piece(3) == "<0x00>" and sp.encode("1234", out_type=str) == ["▁", "1", "2", "3", "4"]


def test_missing_input_is_one_line_and_exit_2(tmp_path):
    done = cli("--input", str(tmp_path / "nope.txt"), "--vocab-size", "300", "--output", str(tmp_path / "tok"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "nope.txt" in done.stderr


def test_vocab_too_large_for_corpus(tmp_path):
    (tmp_path / "corpus.txt").write_text("a b c\n")
    done = cli("--input", str(tmp_path / "corpus.txt"), "--vocab-size", "5000", "--output", str(tmp_path / "tok"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "corpus.txt" in done.stderr


def test_missing_flag_is_exit_2():
    done = cli("--vocab-size", "300")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
