"""The one model-folder format: weights, config, model card (Markdown + JSON), and its errors."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from pydantic import BaseModel

from songalign import __version__
from songalign.checkpoint import (
    CARD_FILE,
    CARD_JSON,
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_weights_into,
    parent_card,
    read_card,
    read_config,
    read_weights,
    require_model_folder,
    save_model_folder,
    songs_by_split,
    trained_songs,
)
from songalign.errors import SongalignError


class TinyConfig(BaseModel):
    width: int = 3
    name: str = "tiny"


class TwoParts(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 2)
        self.body = torch.nn.Linear(2, 3)


@dataclass
class Item:
    song_id: str
    split: str


CARD = {
    "name": "tiny-model",
    "kind": "align",
    "data": {"corpus": "corpora/tiny", "songs": {"train": ["b", "a"], "val": [], "test": ["c"]}},
    "recipe": {"lr": 0.001},
    "evaluation": {"top1": 12.5},
    "provenance": {"seed": 3},
}


def test_a_folder_round_trips_weights_config_and_card(tmp_path):
    module = TwoParts()
    state = {k: v.clone().requires_grad_(True) for k, v in module.state_dict().items()}  # detached on save
    folder = save_model_folder(
        tmp_path / "m", state, TinyConfig(width=5), CARD, title="songalign model", architecture=["a `thing`"]
    )
    assert {p.name for p in folder.iterdir()} == {WEIGHTS_FILE, CONFIG_FILE, CARD_FILE, CARD_JSON}
    assert require_model_folder(folder) == folder
    assert read_config(folder) == {"width": 5, "name": "tiny"}
    weights = read_weights(folder)
    assert set(weights) == set(state) and all(torch.equal(weights[k], state[k].detach()) for k in state)
    card = read_card(folder)
    assert card["data"] == CARD["data"] and card["evaluation"] == {"top1": 12.5}
    assert card["provenance"] == {"songalign_version": __version__, "seed": 3}  # the writer's version is added
    readme = (folder / CARD_FILE).read_text()
    assert readme.startswith("# songalign model: tiny-model\n")
    assert "Kind: `align`" in readme and "- a `thing`" in readme
    assert readme.index("## Training data") < readme.index("## Recipe") < readme.index("## Evaluation")
    assert '"corpora/tiny"' in readme


def test_a_plain_dict_config_is_written_as_json(tmp_path):
    folder = save_model_folder(tmp_path, {}, {"a": [1, 2]}, {"name": "x"}, title="t", architecture=[])
    assert json.loads((folder / CONFIG_FILE).read_text()) == {"a": [1, 2]}


def test_a_folder_without_a_card_json_reads_as_an_empty_card(tmp_path):
    assert read_card(tmp_path) == {}
    (tmp_path / CARD_JSON).write_text("{not json")
    with pytest.raises(SongalignError, match="card.json is not valid JSON"):
        read_card(tmp_path)


def test_a_folder_missing_a_file_is_one_clear_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("{}")
    with pytest.raises(SongalignError, match=r"is not a songalign model folder \(it needs config.json and model"):
        require_model_folder(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(
        SongalignError, match=r"not a captioner folder .*model.safetensors, bart and tokenizer.*caption"
    ):
        require_model_folder(tmp_path, "captioner", needs=("bart", "tokenizer"), hint="train one with caption")
    with pytest.raises(SongalignError, match="does not exist"):
        read_config(tmp_path / "nowhere")


def test_weights_that_do_not_match_are_named(tmp_path):
    module = TwoParts()
    only_head = {k: v for k, v in module.state_dict().items() if k.startswith("head.")}
    save_model_folder(tmp_path, only_head, {}, {}, title="t", architecture=[])
    other = TwoParts()
    with pytest.raises(SongalignError, match=r"\(missing \['body.weight', 'body.bias'\]\)"):
        load_weights_into(other, tmp_path)
    load_weights_into(other, tmp_path, referenced=("body.",))  # a referenced part may be absent
    assert torch.equal(other.head.weight, module.head.weight)
    assert not torch.equal(other.body.weight, module.body.weight)


def test_songs_by_split_lists_each_split_s_songs_sorted_once():
    items = [Item("s3", "train"), Item("s1", "train"), Item("s3", "train"), Item("s2", "test"), Item("s9", "extra")]
    assert songs_by_split(items) == {"train": ["s1", "s3"], "val": [], "test": ["s2"], "extra": ["s9"]}


def test_parent_card_keeps_what_the_parent_trained_on(tmp_path):
    save_model_folder(tmp_path, {}, {}, CARD, title="t", architecture=[])
    assert parent_card(tmp_path) == {
        "folder": str(tmp_path),
        "name": "tiny-model",
        "kind": "align",
        "data": CARD["data"],
    }


def test_trained_songs_include_those_of_the_model_it_was_fine_tuned_from(tmp_path):
    save_model_folder(tmp_path / "pre", {}, {}, CARD, title="t", architecture=[])
    child = {
        "data": {"songs": {"train": ["d"], "test": ["a"]}},
        "provenance": {"init_from": parent_card(tmp_path / "pre")},
    }
    assert trained_songs(child) == {"a", "b", "d"}  # "a" is a test song here but the parent trained on it
    assert trained_songs({}) == set()
