"""The training-run plumbing: one loss-curve plotter for every trainer, and the training settings they share."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from songalign.align.train import ALIGN_CURVES, AlignTrainSettings
from songalign.caption.plots import CAPTION_CURVES
from songalign.caption.train import CaptionTrainSettings
from songalign.errors import SongalignError
from songalign.runs import Curve, TrainingSettings, curve_points, plot_curves, read_metrics, validate_recipe
from songalign.transcribe.train import TranscribeTrainSettings

COLUMNS = ["step", "train/loss_step", "train/contrast", "val/loss", "val/r1"]


def write_metrics(logs: Path, version: int, rows: list[dict[str, object]]) -> None:
    """A Lightning-style ``version_<n>/metrics.csv`` (empty cells where a row does not log a column)."""
    folder = logs / f"version_{version}"
    folder.mkdir(parents=True)
    with (folder / "metrics.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in COLUMNS} for row in rows)


def test_curve_points_take_the_logged_rows_and_leave_out_switched_off_terms(tmp_path):
    logs = tmp_path / "logs"
    write_metrics(logs, 0, [
        {"step": 0, "train/loss_step": 2.0, "train/contrast": 0.0},
        {"step": 1, "train/loss_step": 1.5, "train/contrast": 0.0},
        {"step": 1, "val/loss": 1.75, "val/r1": 0.25},
        {"step": 2, "train/loss_step": 9.0, "train/contrast": 0.0},  # replaced by the resumed run below
    ])  # fmt: skip
    write_metrics(logs, 1, [{"step": 2, "train/loss_step": 1.25, "train/contrast": 0.0}])
    rows = read_metrics(logs)
    curves = [
        Curve("train/loss_step", "train loss"),
        Curve("train/contrast", "contrast", omit_if_zero=True),
        Curve("val/loss", "val loss", "o-"),
        Curve("val/r1", "val R@1", share=True),
        Curve("val/missing", "never logged"),
    ]
    assert curve_points(rows, curves) == [
        (0, [(0, 2.0), (1, 1.5), (2, 1.25)]),
        (2, [(1, 1.75)]),
        (3, [(1, 0.25)]),
    ]
    kept = [Curve("train/contrast", "contrast")]  # without omit_if_zero a flat zero is drawn
    assert curve_points(rows, kept) == [(0, [(0, 0.0), (1, 0.0), (2, 0.0)])]


def test_both_trainers_plot_through_the_one_plotter(tmp_path):
    logs = tmp_path / "logs"
    assert plot_curves(logs, tmp_path / "none.png", ALIGN_CURVES) is None  # no logs yet: no figure
    write_metrics(logs, 0, [
        {"step": 0, "train/loss_step": 2.0, "train/contrast": 0.5},
        {"step": 1, "train/loss_step": 1.0, "train/contrast": 0.25},
        {"step": 1, "val/loss": 1.5, "val/r1": 0.5},
    ])  # fmt: skip
    for name, curves in (("align", ALIGN_CURVES), ("caption", CAPTION_CURVES)):
        out = plot_curves(logs, tmp_path / f"{name}.png", curves, title=name)
        assert out == tmp_path / f"{name}.png"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    assert [c.key for c in ALIGN_CURVES] == ["train/loss_step", "val/loss", "val/r1"]
    assert [c.share for c in ALIGN_CURVES] == [False, False, True]  # R@1 is a share, on its own axis
    assert [c.omit_if_zero for c in CAPTION_CURVES] == [False, True, False]  # α = 0 logs a zero contrast


def test_the_training_settings_base_has_one_set_of_names_and_its_defaults():
    assert TrainingSettings().model_dump() == {
        "epochs": 10,
        "batch_size": 32,
        "lr": 1e-4,
        "betas": (0.9, 0.999),
        "warmup_steps": 0,
        "grad_clip": 1.0,
        "seed": 0,
        "precision": "auto",
        "checkpoint_every": 50,
        "threads": None,
    }
    shared = set(TrainingSettings.model_fields)
    for trainer in (AlignTrainSettings, CaptionTrainSettings, TranscribeTrainSettings):
        assert shared <= set(trainer.model_fields)
    # a trainer's own defaults keep the base's constraints
    assert AlignTrainSettings().epochs == 5 and CaptionTrainSettings().lr == 5e-5
    assert TranscribeTrainSettings().warmup_steps == 100
    with pytest.raises(ValidationError, match="greater than 0"):
        TranscribeTrainSettings(epochs=0)


def warnings_of(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "songalign"]


def test_an_old_setting_name_loads_as_the_new_one_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="songalign"):
        settings = TranscribeTrainSettings.model_validate({"max_epochs": 3, "warmup_batches": 7})  # a saved recipe
    assert (settings.epochs, settings.warmup_steps) == (3, 7)
    assert warnings_of(caplog) == [
        "the training setting train.max_epochs is now called train.epochs; rename it in the recipe",
        "the training setting train.warmup_batches is now called train.warmup_steps; rename it in the recipe",
    ]
    with pytest.raises(ValidationError, match="train.max_epochs and train.epochs are one setting; keep train.epochs"):
        TrainingSettings.model_validate({"epochs": 2, "max_epochs": 3})


class TinyRecipe(BaseModel):
    name: str
    train: TrainingSettings = Field(default_factory=TrainingSettings)


def test_an_override_wins_whichever_name_the_recipe_or_the_override_uses(caplog):
    with caplog.at_level("WARNING", logger="songalign"):
        old_file = validate_recipe(TinyRecipe, {"name": "r", "train": {"max_epochs": 4}}, ["train.epochs=2"])
        old_override = validate_recipe(TinyRecipe, {"name": "r", "train": {"epochs": 4}}, ["train.max_epochs=2"])
    assert old_file.train.epochs == old_override.train.epochs == 2
    assert len(warnings_of(caplog)) == 2  # one for each old name, said once
    with pytest.raises(SongalignError, match=r"^r.yaml: train.max_epochs and train.epochs are one setting; keep "):
        validate_recipe(TinyRecipe, {"name": "r", "train": {"max_epochs": 4, "epochs": 3}}, where="r.yaml")


def _fields_set(model):
    """Every sub-model's explicitly set fields, by dotted path (what 'says otherwise' checks read)."""
    from pydantic import BaseModel

    found = {"": sorted(model.model_fields_set)}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found |= {f"{name}.{key}".rstrip("."): keys for key, keys in _fields_set(value).items()}
    return found


def test_typed_updates_give_the_recipe_the_string_overrides_gave(tmp_path):
    from songalign.align.model import TowerSpec
    from songalign.align.train import load_recipe
    from songalign.runs import recipe_path, updated

    corpus, out, init = tmp_path / "corpus", tmp_path / "run", tmp_path / "pre" / "model"
    strings = [
        f"data.corpus={corpus}", f"out={out}", "train.seed=3", "train.epochs=2", f"init_from={init}",
        "model.freeze.audio_tower=true", "train.augment=null", "model.audio_tower={name: musicnn}",
    ]  # fmt: skip
    by_strings = load_recipe(recipe_path("clap_emo"), strings)
    typed = updated(
        load_recipe(recipe_path("clap_emo")),
        data={"corpus": corpus},
        out=out,
        train={"seed": 3, "epochs": 2, "augment": None},
        init_from=init,
        model={"freeze": {"audio_tower": True}, "audio_tower": TowerSpec(name="musicnn")},
    )
    assert typed.model_dump() == by_strings.model_dump()
    assert _fields_set(typed) == _fields_set(by_strings)  # e.g. musicnn's frozen-by-default reads freeze's set fields
    assert typed.model.audio_tower.options == {}  # a sub-model given whole replaces the recipe's (cnn's options)


def test_a_typed_update_of_an_unknown_or_invalid_field_is_one_sentence():
    from songalign.align.train import load_recipe
    from songalign.runs import recipe_path, updated

    recipe = load_recipe(recipe_path("clap_pre"))
    with pytest.raises(SongalignError, match=r"^AlignTrainSettings has no field 'max_epochs'; check the setting's name$"):
        updated(recipe, train={"max_epochs": 3})
    with pytest.raises(SongalignError, match=r"^AlignTrainSettings: field 'epochs': .*; fix the setting$"):
        updated(recipe, train={"epochs": 0})
