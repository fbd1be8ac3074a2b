"""Loading Hugging Face models offline first, with one clear error (no network is used)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from transformers import AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from songalign.errors import SongalignError  # noqa: E402
from songalign.hub import check_model_folder, load_pretrained, looks_like_path  # noqa: E402
from songalign.towers.testing import tiny_clap_tokenizer  # noqa: E402


class TwoStepLoader:
    """A loader that only finds the model online: it fails whenever asked for local files only."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def from_pretrained(self, source: str, local_files_only: bool = False, **options):
        self.calls.append(local_files_only)
        if local_files_only:
            raise OSError(f"{source} is not in the cache")
        return ("downloaded", source, options)


def test_a_local_folder_loads_quietly_and_leaves_logging_as_it_was(tmp_path):
    tiny_clap_tokenizer().save_pretrained(tmp_path / "tok")
    verbosity = hf_logging.get_verbosity()
    tokenizer = load_pretrained(AutoTokenizer, tmp_path / "tok", "tokenizer")
    assert tokenizer("the sun")["input_ids"][0] == 0  # <s> first, as the tiny RoBERTa tokenizer says
    assert hf_logging.get_verbosity() == verbosity


def test_local_files_are_tried_before_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    loader = TwoStepLoader()
    assert load_pretrained(loader, "owner/model", "thing", revision="main") == (
        "downloaded",
        "owner/model",
        {"revision": "main"},
    )
    assert loader.calls == [True, False]


def test_offline_an_uncached_id_is_one_sentence_with_the_fix():
    loader = TwoStepLoader()  # HF_HUB_OFFLINE=1 in every test (conftest)
    with pytest.raises(SongalignError) as error:
        load_pretrained(loader, "owner/model", "CLAP checkpoint")
    message = str(error.value)
    assert loader.calls == [True]  # the network was never tried
    assert message.startswith(
        "cannot load the CLAP checkpoint 'owner/model' (OSError: owner/model is not in the cache)"
    )
    assert "HF_HUB_OFFLINE is set" in message and "hf download owner/model" in message
    assert "\n" not in message


def test_a_missing_or_broken_folder_is_named(tmp_path):
    with pytest.raises(SongalignError, match="no-such: tokenizer folder not found"):
        load_pretrained(AutoTokenizer, tmp_path / "no-such", "tokenizer")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SongalignError, match="complete saved model"):
        load_pretrained(AutoTokenizer, tmp_path / "empty", "tokenizer")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SongalignError, match="folder not found"):
        check_model_folder(tmp_path / "file", "model")


def test_paths_and_hub_ids_are_told_apart():
    assert not looks_like_path("laion/clap-htsat-unfused")
    assert all(looks_like_path(p) for p in ("./clap", "/models/clap", "~/clap", "a/b/c", "C:\\clap"))
