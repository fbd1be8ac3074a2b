"""The one model-folder format: weights, config, model card (Markdown + JSON), and its errors."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from songalign import __version__
from songalign.checkpoint import (
    CARD_FILE,
    CARD_JSON,
    CONFIG_FILE,
    WEIGHTS_FILE,
    PretrainedModel,
    lineage_provenance,
    lineage_songs,
    load_weights_into,
    parent_card,
    read_card,
    read_config,
    read_saved_config,
    read_weights,
    require_model_folder,
    save_model_folder,
    songs_by_split,
    trained_songs,
    unknown_training,
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
    "data": {
        "corpus": "corpora/tiny",
        "songs": {"train": ["b", "a"], "val": [], "test": ["c"]},
        "trained_songs": ["a", "b", "c"],  # trained with data.train_split: all, test song c included
    },
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


def test_parent_card_keeps_what_the_parent_trained_on_and_its_own_lineage(tmp_path):
    save_model_folder(tmp_path, {}, {}, CARD, title="t", architecture=[])
    assert parent_card(tmp_path) == {
        "folder": str(tmp_path),
        "name": "tiny-model",
        "kind": "align",
        "data": CARD["data"],
        "provenance": {"songalign_version": __version__, "seed": 3},
    }


def save_card(folder, trained: list[str] | None, train_split: list[str], init_from=None) -> dict:
    """Save an empty model folder whose card says it fitted ``trained`` (None: unknown); returns the card."""
    card = {
        "name": folder.name,
        "data": {"songs": {"train": train_split, "val": [], "test": []}, "trained_songs": trained},
        "provenance": {"init_from": parent_card(init_from)} if init_from else {},
    }
    save_model_folder(folder, {}, {}, card, title="t", architecture=[])
    return read_card(folder)


def test_trained_songs_are_what_the_weights_fitted_not_the_train_split(tmp_path):
    card = save_card(tmp_path / "all", ["a", "b", "t"], train_split=["a", "b"])  # trained on every split
    assert trained_songs(card) == {"a", "b", "t"}
    assert trained_songs({"data": {"songs": {"train": ["a"]}}}) is None  # a card without trained_songs cannot say
    assert trained_songs({}) is None and unknown_training({}) == ["the model"]


def test_a_lineage_keeps_every_ancestor_s_songs(tmp_path):
    # a → b → c; each card's own list is cumulative, and the lineage is followed too
    save_card(tmp_path / "a", ["a1", "t1"], train_split=["a1"])
    save_card(tmp_path / "b", lineage_songs(["b1"], tmp_path / "a"), train_split=["b1"], init_from=tmp_path / "a")
    c = save_card(tmp_path / "c", lineage_songs(["c1"], tmp_path / "b"), train_split=["c1"], init_from=tmp_path / "b")
    assert c["data"]["trained_songs"] == ["a1", "b1", "c1", "t1"]
    assert trained_songs(c) == {"a1", "b1", "c1", "t1"}
    assert c["provenance"]["init_from"]["provenance"]["init_from"]["folder"] == str(tmp_path / "a")
    # a grandparent's songs count even when the child's own list leaves them out (a hand-edited card)
    c["data"]["trained_songs"] = ["c1"]
    assert trained_songs(c) == {"a1", "b1", "c1", "t1"} and unknown_training(c) == []


def test_songs_of_a_model_trained_elsewhere_are_unknown_not_none(tmp_path):
    pre = save_card(tmp_path / "pre", None, train_split=[])  # e.g. CLAP-pre: LAION's data
    assert trained_songs(pre) is None and unknown_training(pre) == ["pre"]
    assert lineage_songs(["x"], tmp_path / "pre") == ["x"]  # nothing known is inherited
    tuned = save_card(tmp_path / "tuned", lineage_songs(["x"], tmp_path / "pre"), ["x"], init_from=tmp_path / "pre")
    assert trained_songs(tuned) == {"x"}  # what songalign fitted is known ...
    assert unknown_training(tuned) == [str(tmp_path / "pre")]  # ... and the rest of its lineage is not


def test_a_captioner_s_lineage_includes_its_music_tower_s(tmp_path):
    # the frozen tower's alignment model fitted t1 (and descends from a), the captioner itself only c1
    save_card(tmp_path / "a", ["a1"], train_split=["a1"])
    save_card(tmp_path / "tower", lineage_songs(["t1"], tmp_path / "a"), ["t1"], init_from=tmp_path / "a")
    card = {"data": {"trained_songs": ["c1"]}, "provenance": lineage_provenance(music_tower=tmp_path / "tower")}
    assert card["provenance"]["music_tower"]["folder"] == str(tmp_path / "tower")
    assert trained_songs(card) == {"a1", "c1", "t1"} and unknown_training(card) == []
    # a tower trained outside songalign (CLAP-pre) leaves the captioner's lineage partly unknown, and says whose
    save_card(tmp_path / "clap", None, train_split=[])
    on_clap = {"data": {"trained_songs": ["c1"]}, "provenance": lineage_provenance(music_tower=tmp_path / "clap")}
    assert trained_songs(on_clap) == {"c1"} and unknown_training(on_clap) == [str(tmp_path / "clap")]
    # both parents: a fine-tuned captioner follows its parent captioner's lineage and its own tower's
    both = {"provenance": lineage_provenance(init_from=tmp_path / "a", music_tower=None)}
    assert set(both["provenance"]) == {"init_from"} and trained_songs(both) == {"a1"}
    with pytest.raises(ValueError, match="not a lineage key: tower"):
        lineage_provenance(tower=tmp_path / "tower")


class StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(3, gt=0)

    @field_validator("width")
    @classmethod
    def _even(cls, width: int) -> int:
        if width % 2:
            raise ValueError("width must be even; set width: 4 instead")  # advice for a recipe's author
        return width


def test_a_saved_config_this_version_cannot_read_is_one_sentence_with_the_remedy(tmp_path):
    save_model_folder(tmp_path, {}, {"width": 4}, {}, title="t", architecture=[])
    assert read_saved_config(tmp_path, StrictConfig, "train it again") == StrictConfig(width=4)
    for config, problem in (
        ({"width": 4, "depth": 2}, "field 'depth': Extra inputs are not permitted"),
        ({"width": -2}, "field 'width': Input should be greater than 0"),
        ({"width": 3}, "field 'width' is refused"),  # the validator's recipe advice is no fix for a folder
    ):
        (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
        with pytest.raises(SongalignError) as raised:
            read_saved_config(tmp_path, StrictConfig, "train it again")
        assert str(raised.value) == (
            f"{tmp_path / CONFIG_FILE} does not fit this version of songalign ({problem}), so another version "
            "wrote it or it was edited; train it again"
        )


class TinyModel(PretrainedModel):
    """The smallest model a folder holds: one layer of ``config.width`` inputs, and a frozen part the
    config references (``body``), which the folder leaves out."""

    folder_kind = "tiny"
    config_class = TinyConfig
    card_title = "tiny model"
    folder_name = "tiny model"
    folder_hint = "save one with TinyModel.save_pretrained"

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.head = torch.nn.Linear(config.width, 2)
        self.body = torch.nn.Linear(2, 2)

    def _stored_elsewhere(self, config: TinyConfig) -> tuple[str, ...]:
        return ("body.",)

    def architecture(self) -> list[str]:
        return [f"one layer of {self.config.width} inputs"]


def test_the_model_folder_base_round_trips_config_weights_and_card(tmp_path):
    model = TinyModel(TinyConfig(width=5))
    folder = model.save_pretrained(tmp_path / "m", card={"name": "t"})
    assert set(read_weights(folder)) == {"head.weight", "head.bias"}  # the referenced body is not stored
    card = read_card(folder)
    assert card["kind"] == "tiny" and card["name"] == "t"  # the kind defaults to the model's
    markdown = (folder / CARD_FILE).read_text()
    assert "# tiny model: t" in markdown and "one layer of 5 inputs" in markdown
    loaded = TinyModel.from_pretrained(folder)
    assert loaded.config == TinyConfig(width=5)
    assert torch.equal(loaded.head.weight, model.head.weight)
    with pytest.raises(TypeError, match="takes no options; got width"):
        TinyModel.from_pretrained(folder, width=3)


def test_the_model_folder_base_refuses_a_missing_folder_another_kind_and_another_config(tmp_path):
    with pytest.raises(SongalignError, match=r"nowhere is not a tiny model folder \(it needs config.json and model"):
        TinyModel.from_pretrained(tmp_path / "nowhere")
    folder = TinyModel(TinyConfig()).save_pretrained(tmp_path / "m", card={"kind": "caption"})
    with pytest.raises(SongalignError) as raised:
        TinyModel.from_pretrained(folder)
    assert str(raised.value) == (
        f"{folder} holds a 'caption' model (card.json kind), not a tiny model ('tiny'); "
        "save one with TinyModel.save_pretrained or give the right path"
    )
    (folder / CARD_JSON).unlink()  # a folder without a card (or a kind) is taken as it is
    assert TinyModel.from_pretrained(folder).config == TinyConfig()
    (folder / CONFIG_FILE).write_text(json.dumps({"width": "wide"}))
    with pytest.raises(SongalignError, match=r"does not fit this version of songalign \(field 'width'"):
        TinyModel.from_pretrained(folder)
