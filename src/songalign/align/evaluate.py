"""Evaluate one alignment model on a prepared corpus: every protocol, one JSON, one Markdown page.

``evaluate_model(model, corpus, split="test")`` computes, on the segments of ``split``:

- the seed-000 lyric-choice protocol (KL, top-1/2/4/8) with pools of ``pool`` candidates and
  with the whole split as the pool (:mod:`songalign.evaluate.protocol`);
- retrieval in both directions (R@1/5/10, P@k, mAP@10, MRR, median rank, each rank figure with
  its chance level and the pool size) of audio against the segments' lyrics, emotion
  descriptions and music captions, where the corpus has them;
- zero-shot classification of the emotion (reference labels where the corpus has them,
  otherwise the describer's) and of the genre from prompts;
- a linear probe (MER) on the frozen audio embeddings, fitted on the *train* split's segments
  only (its ``C`` chosen by song-grouped folds inside train) and scored on the evaluated split.
  It is not reported for a split that shares songs with the train split (``train`` or ``all``)
  or with the songs the model was trained on (its card's, or ``trained_songs=``): that would
  measure fitting, not generalisation, and the JSON says so. When the model's training songs
  are unknown (an in-memory model without ``trained_songs=``, a checkpoint pretrained
  elsewhere), the probe is reported with the note "held-out status unknown".

Audio-only segments (no lyrics: songs read without a lyrics file) are left out of every figure,
which all pair audio with the segment's lyrics or rank by them; each split's result counts them
(``segments_without_lyrics``) and the Markdown page says so.

The Markdown page (:func:`to_markdown`) is made of the shared tables of
:mod:`songalign.evaluate.tables` (:func:`~songalign.evaluate.tables.lyric_choice_table`,
:func:`~songalign.evaluate.tables.retrieval_table`, :func:`~songalign.evaluate.tables.classification_table`),
which the quickstart report uses too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songalign.align.data import Target, segment_audio, target_text, text_embeddings
from songalign.align.model import AlignModel
from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_card, unknown_training
from songalign.checkpoint import trained_songs as card_trained_songs
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Segment
from songalign.errors import SkipReport, SongalignError
from songalign.evaluate.classify import (
    DEFAULT_TEMPLATES,
    FittedProbe,
    LabelPrompts,
    fit_probe,
    probe_unavailable,
    zero_shot,
)
from songalign.evaluate.protocol import lyric_choice, require_finite, require_protocol_options
from songalign.evaluate.retrieval import both_directions
from songalign.evaluate.tables import (
    CLASSIFICATION_NOTE,
    LYRIC_CHOICE_NOTE,
    RETRIEVAL_NOTE,
    classification_table,
    lyric_choice_table,
    retrieval_table,
)

EMOTION_KEYS = ("ref_emotion", "emotion")
TEXT_KINDS: tuple[Target, ...] = ("lyrics", "description", "caption")
"""The texts a segment's audio is evaluated against (the targets of :func:`songalign.align.data.target_text`)."""


@dataclass
class Embedded:
    """Normalised embeddings of segments: ``audio (N, D)`` and per text kind ``(N, D)``."""

    segments: list[Segment]
    audio: np.ndarray
    texts: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)

    def select(self, ids: set[str]) -> Embedded:
        """The segments whose id is in ``ids``, in the same order."""
        keep = [i for i, s in enumerate(self.segments) if s.id in ids]
        texts = {kind: ([names[i] for i in keep], vectors[keep]) for kind, (names, vectors) in self.texts.items()}
        return Embedded([self.segments[i] for i in keep], self.audio[keep], texts)

    @property
    def songs(self) -> set[str]:
        """The ids of the songs the segments come from."""
        return {s.song_id for s in self.segments}


def embed_segments(model: AlignModel, segments: list[Segment], cache_dir: Path, progress: bool = False) -> Embedded:
    """Audio embeddings of the segments' windows and text embeddings of their lyrics, descriptions, captions."""
    cache = FeatureCache(cache_dir)
    kept, inputs, tower_outputs = segment_audio(model, segments, cache, SkipReport(), progress)
    if not kept:
        raise SongalignError("no segment with readable audio to evaluate")
    model.eval()
    with torch.no_grad():
        batches = [inputs[i : i + 64] for i in range(0, len(kept), 64)]
        audio = torch.cat([model.project_audio_inputs(batch, tower_outputs) for batch in batches]).numpy()
    result = Embedded(kept, audio)
    for kind in TEXT_KINDS:
        texts = [target_text(s, kind) for s in kept]
        if all(t.strip() for t in texts):
            with torch.no_grad():
                projected = model.project_text(text_embeddings(model, texts, cache)).numpy()
            result.texts[kind] = (texts, projected)
    return result


def emotion_labels(segments: list[Segment]) -> tuple[list[str], str] | None:
    """Each segment's emotion label and the key it came from (reference labels first)."""
    for key in EMOTION_KEYS:
        labels = labels_of(segments, key)
        if labels is not None:
            return labels, key
    return None


def labels_of(segments: list[Segment], key: str) -> list[str] | None:
    """Each segment's non-empty string label ``key``, or None when a segment lacks one."""
    labels = [s.labels.get(key) for s in segments]
    return [str(label) for label in labels] if all(isinstance(label, str) and label for label in labels) else None


def logit_scale_of(model: AlignModel) -> float | None:
    """The model's logit scale s, or None when its training loss had none (the protocol then uses 1)."""
    return float(model.scale.detach()) if model.config.logit_scale_trained else None


def evaluate_model(
    model: AlignModel | str | Path, corpus: str | Path, *, split: str = "test", **options: Any
) -> dict[str, Any]:
    """All figures for ``model`` on ``split`` of ``corpus`` (see the module docstring), as a JSON-able dict.

    ``options`` are those of :func:`evaluate_splits` (``pool``, ``draws``, ``seed``, ``templates``,
    ``progress``, ``model_name``, ``trained_songs``).
    """
    return evaluate_splits(model, corpus, (split,), **options)[0][split]


def evaluate_splits(
    model: AlignModel | str | Path,
    corpus: str | Path,
    splits: tuple[str, ...] = ("test",),
    *,
    pool: int = 10,
    draws: int = 5,
    seed: int = 0,
    templates: tuple[str, ...] = DEFAULT_TEMPLATES,
    progress: bool = False,
    model_name: str | None = None,
    trained_songs: Iterable[str] | None = None,
) -> tuple[dict[str, dict[str, Any]], Embedded]:
    """:func:`evaluate_model` for several splits at once, embedding every segment once.

    Returns the figures per split and the embeddings of all segments (for plots). The probe is
    fitted once, on the train split, and scored on each evaluated split that shares no song with
    it. ``model_name`` names the model in error messages (default: its folder).
    ``trained_songs`` are the ids of the songs whose audio the model's weights were fitted on
    (an empty collection for an untrained model); by default a model folder's card says, and
    for an in-memory model they are unknown, which every split's figures then state.
    """
    require_protocol_options(pool, draws)  # before the expensive embedding pass
    if model_name is None:
        model_name = "the model" if isinstance(model, AlignModel) else f"the model in {model}"
    if trained_songs is not None:
        songs_model_trained_on, unknown_for = set(trained_songs), []
    else:
        songs_model_trained_on, unknown_for = _songs_trained_on(model)
    model = AlignModel.load(model)
    manifest = CorpusManifest.load(corpus)
    # audio-only segments have no lyrics to choose, retrieve or pair with: left out, and counted per split
    without_lyrics = {s.id for s in manifest.segments if not s.text.strip()}
    members = {split: {s.id for s in manifest.split(split)} - without_lyrics for split in splits}
    for split, ids in members.items():
        if len(ids) < 2:
            lyric = " with lyrics" if without_lyrics else ""
            raise SongalignError(
                f"the '{split}' split of {corpus} has {len(ids)} segment(s){lyric}; evaluation needs 2 or more"
            )
    with_lyrics = [s for s in manifest.segments if s.id not in without_lyrics]
    everything = embed_segments(model, with_lyrics, Path(corpus) / ".cache" / "features", progress)
    require_finite(everything.audio, "audio", model_name)  # before any protocol turns NaN into a score
    for kind, (_, vectors) in everything.texts.items():
        require_finite(vectors, kind, model_name)
    train = everything.select({s.id for s in manifest.split("train")})
    probe = _fit_emotion_probe(train, seed)
    prompts = LabelPrompts(model.embed_text)  # each vocabulary's prompts embedded once, for every split
    results = {}
    for split in splits:
        embedded = everything.select(members[split])
        if len(embedded.segments) < 2:
            raise SongalignError(f"fewer than 2 segments of the '{split}' split of {corpus} have readable audio")
        result: dict[str, Any] = {"split": split, "segments": len(embedded.segments), "songs": len(embedded.songs)}
        skipped = sum(1 for s in manifest.split(split) if s.id in without_lyrics)
        if skipped:
            result["segments_without_lyrics"] = skipped
        seen = None if songs_model_trained_on is None else embedded.songs & songs_model_trained_on
        result["songs_in_model_training"] = None if seen is None else len(seen)  # None: unknown
        if unknown_for and seen is not None:
            result["training_songs_unknown_for"] = unknown_for
        result |= _split_figures(
            model,
            manifest,
            embedded,
            prompts,
            pool=pool,
            draws=draws,
            seed=seed,
            templates=templates,
            model_name=model_name,
        )
        if probe is not None:
            result["probe"] = {"emotion": _probe_figures(probe, embedded, train.songs, seen, unknown_for)}
        results[split] = result
    return results, everything


def _songs_trained_on(model: AlignModel | str | Path) -> tuple[set[str] | None, list[str]]:
    """The songs a model folder's card says its weights were fitted on, its parents' included (None when
    unknown: an in-memory model, or a lineage that records none), and the models of its lineage that
    record no training songs (a checkpoint pretrained elsewhere)."""
    if isinstance(model, AlignModel):
        return None, ["the model"]
    card = read_card(model)
    songs = card_trained_songs(card)
    return (None if songs is None else set(songs)), unknown_training(card)


def _fit_emotion_probe(train: Embedded, seed: int) -> tuple[FittedProbe, str] | str | None:
    """The emotion probe fitted on the train split, with its label key.

    A reason (str) when none can be fitted; None when the corpus has no emotion labels.
    """
    if not train.segments:
        return "the corpus has no train split to fit the probe on"
    emotions = emotion_labels(train.segments)
    if emotions is None:
        return None
    labels, key = emotions
    groups = [s.song_id for s in train.segments]
    reason = probe_unavailable(labels, groups)
    return reason if reason else (fit_probe(train.audio, labels, groups, seed=seed), key)


HELD_OUT_UNKNOWN = (
    "held-out status unknown: the songs this model was trained on are not recorded (its card has no "
    "data.trained_songs, or it was evaluated in memory without trained_songs=), so some of this split's "
    "songs may be ones its embeddings were fitted on"
)


def _probe_figures(
    probe: tuple[FittedProbe, str] | str,
    embedded: Embedded,
    train_songs: set[str],
    seen_by_model: set[str] | None,
    unknown_for: Sequence[str] = (),
) -> dict[str, Any]:
    """The probe's figures on one evaluated split, or why they are not reported.

    ``seen_by_model`` are this split's songs the model was trained on, None when unknown;
    ``unknown_for`` the models of its lineage that record no training songs. Unless every model
    of the lineage is known not to have trained on the split, the figures are reported with
    ``held_out_from_model`` None (True when known) and a ``note`` saying what is unknown.
    """
    if isinstance(probe, str):
        return {"not_reported": probe}
    fitted, key = probe
    if embedded.songs & train_songs:
        return {
            "not_reported": f"{len(embedded.songs & train_songs)} of this split's {len(embedded.songs)} songs are in "
            "the train split the probe is fitted on, so a score here would measure fitting, not generalisation"
        }
    if seen_by_model:
        return {
            "not_reported": f"the model was trained on {len(seen_by_model)} of this split's songs (as its card or "
            "trained_songs= says), so its embeddings of them are not held out"
        }
    labels = labels_of(embedded.segments, key)
    if labels is None:
        return {"not_reported": f"some segments of this split have no '{key}' label"}
    scored = {"segments": len(labels), "songs": len(embedded.songs)}
    figures = fitted.score(embedded.audio, labels) | {
        "label_source": key,
        "fitted": fitted.describe(),
        "scored": scored,
    }
    if seen_by_model is None:
        return figures | {"held_out_from_model": None, "note": HELD_OUT_UNKNOWN}
    if unknown_for:
        note = (
            f"held-out status partly unknown: {', '.join(unknown_for)} of the model's lineage record(s) no training "
            "songs; the others did not train on this split's songs"
        )
        return figures | {"held_out_from_model": None, "note": note}
    return figures | {"held_out_from_model": True}  # a split with songs the model trained on returned above


def _split_figures(
    model: AlignModel,
    manifest: CorpusManifest,
    embedded: Embedded,
    prompts: LabelPrompts,
    *,
    pool: int,
    draws: int,
    seed: int,
    templates: tuple[str, ...],
    model_name: str,
) -> dict[str, Any]:
    """Lyric choice, retrieval and zero-shot figures on one split's embeddings (``prompts``: the model's)."""
    scale = logit_scale_of(model)
    result: dict[str, Any] = {"seed": seed}
    lyrics_texts, lyrics = embedded.texts["lyrics"]
    options = {"seed": seed, "scale": scale, "model_name": model_name}
    result["lyric_choice"] = {
        f"pool_{pool}": lyric_choice(embedded.audio, lyrics, lyrics_texts, pool=pool, draws=draws, **options).to_dict(),
        "pool_all": lyric_choice(embedded.audio, lyrics, lyrics_texts, pool="all", **options).to_dict(),
    }
    result["retrieval"] = {
        kind: both_directions(embedded.audio, vectors, texts) for kind, (texts, vectors) in embedded.texts.items()
    }
    # the labels to choose from are the whole corpus's, not only those that occur in this split
    result["zero_shot"] = {}
    emotions = emotion_labels(embedded.segments)
    if emotions:
        labels, key = emotions
        vocabulary = sorted({str(s.labels[key]) for s in manifest.segments if s.labels.get(key)})
        if len(vocabulary) > 1:
            figures = zero_shot(embedded.audio, labels, vocabulary, prompts, templates)
            result["zero_shot"]["emotion"] = figures | {"label_source": key}
    genres = [manifest.song(s.song_id).genre for s in embedded.segments]
    vocabulary = sorted({song.genre for song in manifest.songs if song.genre})
    if all(genres) and len(vocabulary) > 1:
        result["zero_shot"]["genre"] = zero_shot(embedded.audio, genres, vocabulary, prompts, templates)
    return result


def to_markdown(result: dict[str, Any], title: str = "Evaluation") -> str:
    """A readable page of the figures in ``result`` (from :func:`evaluate_model`)."""
    lines = [
        f"# {title}",
        "",
        f"Split `{result['split']}`, {result['segments']} segments of {result['songs']} songs, seed {result['seed']}.",
    ]
    if result.get("segments_without_lyrics"):
        lines.append(f"{result['segments_without_lyrics']} audio-only segment(s) have no lyrics and were left out.")
    seen = result.get("songs_in_model_training")
    if seen is None:
        lines.append("Held-out status unknown: the songs this model was trained on are not recorded.")
    elif seen:
        lines.append(f"Warning: the model was trained on {seen} of these songs.")
    if result.get("training_songs_unknown_for"):
        lines.append(
            "Held-out status partly unknown: "
            f"{', '.join(result['training_songs_unknown_for'])} of the model's lineage record(s) no training songs."
        )
    lines += ["", "## Lyric choice (seed 000 protocol)", "", LYRIC_CHOICE_NOTE, ""]
    pools = {
        ("whole split" if name == "pool_all" else "sampled pools",): protocol
        for name, protocol in result["lyric_choice"].items()
    }
    lines += lyric_choice_table(pools, ("candidates",))
    lines += ["", "## Retrieval", "", RETRIEVAL_NOTE, ""]
    lines += retrieval_table(
        {
            (kind, direction.replace("_", " ")): metrics
            for kind, directions in result["retrieval"].items()
            for direction, metrics in directions.items()
        },
        ("text", "direction"),
    )
    classification = {("zero-shot", label): m for label, m in result.get("zero_shot", {}).items()}
    classification |= {("linear probe", label): m for label, m in result.get("probe", {}).items()}
    if classification:
        lines += ["", "## Classification", "", CLASSIFICATION_NOTE, ""]
        lines += classification_table(classification, ("method", "label"))
    return "\n".join(lines) + "\n"


def write_evaluation(result: dict[str, Any], out: str | Path, title: str = "Evaluation") -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "evaluation.json", out / "evaluation.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(result, title), encoding="utf-8")
    return json_path, md_path
