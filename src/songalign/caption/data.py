"""Captioning data: the songs of a prepared corpus with their interpretations, split by song.

The captioners of seeds 002–004 learn ``(music, lyrics) → interpretation``. Their data is an
ordinary prepared corpus (``songalign corpus prepare``: ``songs.parquet``, ``segments.parquet``,
``corpus.json``) whose songs carry interpretations in ``Song.extra["interpretations"]``
(:data:`~songalign.corpus.readers.interpretation.INTERPRETATIONS`, a list of ``{"text",
"votes"}``): the Song Interpretation Dataset through the ``interpretation`` reader, the synthetic
corpus through the ``jamendo`` reader. A song's lyrics are its lines, one per line; its split is
the split of its segments (the corpus's song-level split).

The Song Interpretation Dataset of BART-fusion has three *variants* that keep different
comments by vote; all three share one test split:

==============  ==========================================  =============================
variant         training and validation items kept           aliases
==============  ==========================================  =============================
``full``        every interpretation                         ``all``
``votes_ge_0``  votes ≥ 0 (unknown votes are left out)       ``nonneg``, ``>=0``, ``ge0``
``votes_gt_0``  votes > 0 (unknown votes are left out)       ``positive``, ``>0``, ``gt0``
==============  ==========================================  =============================

**Splits and the music tower.** When the music tower is the audio tower of an alignment model
(``align_model``), its model card says how that model's corpus was split (``card.json``:
``data.songs = {"train": [...], "val": [...], "test": [...]}``) and which songs its weights were
fitted on, over its whole lineage (:func:`songalign.checkpoint.trained_songs`: ``data.trained_songs``
of the model and of every model it was fine-tuned from). The captioner's val and test songs must be
songs the tower never heard, or their scores would measure memory, not captioning:

- ``splits="align_model"`` (the default): a song the card lists takes the card's split, the others
  keep the corpus's, and every song the tower's lineage trained on goes to train (a parent model
  may have trained on a song its child's corpus puts in test). No leak is possible; if val or test
  ends up empty (the tower heard every song of the corpus) that is an error.
- ``splits="corpus"``: the corpus's own splits are kept, and a val or test song the tower trained
  on is an error.

When the card cannot say which songs its lineage trained on (a checkpoint trained outside
songalign, such as CLAP-pre, whose training data is its publisher's), the splits are not checked:
a warning is logged and :attr:`CaptionCorpus.split_source` (which the captioner's card records)
carries a note saying so. The same check guards evaluation against the songs the captioner itself
trained on (its own card); an older captioner card that lists its splits but not
``data.trained_songs`` is checked against its train songs, with a warning that they may not be all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from songalign.checkpoint import CARD_SPLITS, read_card, require_model_folder, trained_songs, unknown_training
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.readers.interpretation import INTERPRETATIONS
from songalign.corpus.records import Song
from songalign.errors import SongalignError

log = logging.getLogger("songalign")

SplitSource = Literal["align_model", "corpus"]
"""Whose song-level splits a captioner uses when its music tower comes from an alignment model."""


def _always(votes: int | None) -> bool:
    return True


def _non_negative(votes: int | None) -> bool:
    return votes is not None and votes >= 0


def _positive(votes: int | None) -> bool:
    return votes is not None and votes > 0


VARIANTS: dict[str, Callable[[int | None], bool]] = {
    "full": _always,
    "votes_ge_0": _non_negative,
    "votes_gt_0": _positive,
}
"""The dataset variants of BART-fusion: name → which votes an item may have to be kept."""

_ALIASES = {
    "all": "full",
    "nonneg": "votes_ge_0",
    ">=0": "votes_ge_0",
    "ge0": "votes_ge_0",
    "positive": "votes_gt_0",
    ">0": "votes_gt_0",
    "gt0": "votes_gt_0",
}


def variant_name(name: str) -> str:
    """The canonical variant name for ``name`` or one of its aliases."""
    key = name.strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in VARIANTS:
        raise SongalignError(
            f"unknown dataset variant {name!r}; choose one of: {', '.join(VARIANTS)} (or nonneg, positive)"
        )
    return key


@dataclass(frozen=True)
class CaptionItem:
    """One ``(song, interpretation)`` pair, a view of a prepared corpus's song (never stored).

    ``lyrics`` keep their line breaks; ``text`` is the interpretation; ``votes`` its net votes
    (None when unknown). ``audio_path`` is absolute (``""`` when the song has no audio);
    ``duration`` is the audio's length in seconds when known.
    """

    song_id: str
    lyrics: str
    text: str
    votes: int | None = None
    audio_path: str = ""
    duration: float | None = None
    title: str = ""


def song_lyrics(song: Song) -> str:
    """A song's lyrics as one text, a line per line (an untimed song's single line keeps its own breaks)."""
    return "\n".join(line.text for line in song.lines if line.text.strip())


def _card_split_songs(card: dict[str, Any]) -> dict[str, list[str]] | None:
    """A card's ``data.songs`` as ``{split: song ids}`` for ``train``/``val``/``test``; None when it has none."""
    songs = (card.get("data") or {}).get("songs")
    if not isinstance(songs, dict):
        return None
    return {split: [str(s) for s in songs.get(split) or []] for split in CARD_SPLITS}


def check_unseen(
    splits: dict[str, str],
    seen: Iterable[str],
    folder: str | Path,
    who: str,
    fix: str,
    checked: Collection[str] = ("val", "test"),
) -> None:
    """Fail in one sentence when a song of the ``checked`` splits is among the songs ``seen`` in training.

    ``splits`` maps song ids to splits; ``who`` names what trained on ``seen`` ("the music tower
    of", "the captioner"), ``folder`` its model folder, and ``fix`` says what to do.
    """
    seen = set(seen)
    leaked = sorted(song for song, split in splits.items() if split in checked and song in seen)
    if leaked:
        examples = ", ".join(leaked[:3]) + (", …" if len(leaked) > 3 else "")
        raise SongalignError(
            f"{len(leaked)} of the captioner's {'/'.join(checked)} songs ({examples}) are songs {who} {folder} "
            f"was trained on, so their scores would measure memory; {fix}"
        )


@dataclass
class CaptionCorpus:
    """The songs of a prepared corpus that carry interpretations, with the captioner's song-level splits.

    ``songs`` maps song ids to records (corpus order); ``splits`` maps them to ``train``,
    ``val`` or ``test``; ``split_source`` says where the splits came from (for model cards).
    """

    path: Path
    songs: dict[str, Song]
    splits: dict[str, str]
    split_source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls, corpus: str | Path, *, align_model: str | Path | None = None, splits: SplitSource = "align_model"
    ) -> CaptionCorpus:
        """Read the prepared corpus ``corpus``; with ``align_model``, split it as the module docstring says."""
        path = Path(corpus)
        manifest = CorpusManifest.load(path)
        songs = {song.id: song for song in manifest.songs if song.extra.get(INTERPRETATIONS)}
        if not songs:
            raise SongalignError(
                f"{path} has no song with interpretations; prepare the Song Interpretation release with "
                "`songalign corpus prepare interpretation RELEASE --out DIR`, or the synthetic corpus with "
                "`songalign corpus synth` then `songalign corpus prepare jamendo`"
            )
        corpus_splits = {s.song_id: s.split for s in manifest.segments if s.song_id in songs}
        songs = {song_id: song for song_id, song in songs.items() if song_id in corpus_splits}
        source: dict[str, Any] = {"source": "corpus"}
        if align_model is not None:
            corpus_splits, source = _tower_splits(path, corpus_splits, Path(align_model), splits)
        return cls(path, songs, corpus_splits, source)

    @classmethod
    def for_captioner(
        cls, corpus: str | Path, align_model: str | Path | None, captioner: str | Path | None = None
    ) -> CaptionCorpus:
        """``corpus`` split as a captioner whose music tower is ``align_model``'s was trained.

        With the captioner's folder ``captioner``, its card gives the split source it trained
        with, and no val/test song may be one it trained on.
        """
        card = read_card(captioner) if captioner is not None else {}
        source = ((card.get("data") or {}).get("splits") or {}).get("source", "align_model")
        loaded = cls.load(corpus, align_model=align_model, splits="corpus" if source == "corpus" else "align_model")
        trained = trained_songs(card)
        if trained is None and captioner is not None:  # an older card: its train split, a known part
            trained = _listed_train_songs(card, captioner)
        if trained is not None:
            check_unseen(loaded.splits, trained, captioner, "the captioner",
                         "evaluate on the corpus it was trained on (its card's data.corpus) or on songs it never saw")  # fmt: skip
        elif card:
            log.warning("the card of %s does not say which songs it trained on; its val/test songs are not checked",
                        captioner)  # fmt: skip
        return loaded

    def song_ids(self, split: str) -> list[str]:
        """Ids of the songs of ``split`` (``all``: every song), in corpus order."""
        return [s for s in self.songs if split == "all" or self.splits[s] == split]

    def song_lists(self) -> dict[str, list[str]]:
        """Sorted song ids of each split: what a model card lists as ``data.songs``."""
        return {split: sorted(self.song_ids(split)) for split in CARD_SPLITS}

    def items(self, split: str, variant: str = "full", filter_test: bool = False) -> list[CaptionItem]:
        """The ``(song, interpretation)`` items of ``split`` (``train``/``val``/``test``/``all``) in ``variant``.

        The test split is shared by every variant: it is filtered by votes only when
        ``filter_test`` is true.
        """
        keep = VARIANTS[variant_name(variant)]
        filtered = split != "test" or filter_test
        items = []
        for song_id in self.song_ids(split):
            song = self.songs[song_id]
            lyrics = song_lyrics(song)
            for entry in song.extra[INTERPRETATIONS]:
                votes = entry.get("votes")
                if filtered and not keep(votes):
                    continue
                items.append(CaptionItem(song_id, lyrics, str(entry["text"]), votes, song.audio_path, song.duration,
                                         song.title))  # fmt: skip
        return items

    def counts(self) -> dict[str, dict[str, int]]:
        """Items and songs per split for each variant: ``{variant: {split: items, split_songs: songs}}``."""
        table: dict[str, dict[str, int]] = {}
        for variant in VARIANTS:
            row: dict[str, int] = {}
            for split in CARD_SPLITS:
                chosen = self.items(split, variant)
                row[split] = len(chosen)
                row[f"{split}_songs"] = len({i.song_id for i in chosen})
            table[variant] = row
        return table


def _listed_train_songs(card: dict[str, Any], folder: str | Path) -> set[str] | None:
    """The train songs of an older card that lists its splits (``data.songs``) but not ``data.trained_songs``.

    A captioner fits on its train split, so these are songs it trained on, but the card cannot say
    whether they are all of them, so a warning says the check may be partial.
    None when the card lists no train song either (the check is then impossible).
    """
    listed = _card_split_songs(card)
    if not listed or not listed["train"]:
        return None
    log.warning("the card of %s records no data.trained_songs (an older card); its val/test songs are checked "
                "against its data.songs.train, which may not be every song it trained on", folder)  # fmt: skip
    return set(listed["train"])


def _tower_splits(
    corpus: Path, corpus_splits: dict[str, str], align_model: Path, splits: SplitSource
) -> tuple[dict[str, str], dict[str, Any]]:
    """The captioner's splits when its music tower is ``align_model``'s, and where they came from (see the module)."""
    require_model_folder(
        align_model, "alignment model", hint="give the folder `songalign train` or `songalign models build` wrote"
    )
    card = read_card(align_model)
    heard = trained_songs(card)  # None: unknown
    unknown = unknown_training(card)
    source: dict[str, Any] = {"source": splits, "align_model": str(align_model)}
    if splits == "align_model":
        tower = _card_split_songs(card)
        if tower is None:
            raise SongalignError(
                f"the model card of {align_model} does not list the songs of its splits (card.json data.songs), so "
                "the captioner's splits cannot follow it; retrain that model with this version of songalign, or set "
                "data.splits=corpus to keep the corpus's splits"
            )
        assigned = {song: split for split in CARD_SPLITS for song in tower[split] if song in corpus_splits}
        assigned |= {song: "train" for song in heard or () if song in corpus_splits}  # the lineage's songs too
        moved = sum(1 for song, split in assigned.items() if corpus_splits[song] != split)
        followed = corpus_splits | assigned
        _require_val_and_test(corpus, corpus_splits, followed, align_model)
        corpus_splits = followed
        source |= {"matched": len(assigned), "moved": moved}
    elif heard is not None:
        check_unseen(corpus_splits, heard, align_model, "the music tower of",
                     "set data.splits=align_model (the default), which moves every song that tower trained on "
                     "into train, or take a music tower that did not train on them")  # fmt: skip
    if unknown:
        note = (
            f"the songs {', '.join(unknown)} trained on are unknown (trained outside songalign, or a card that does "
            "not record them), so the captioner's val and test songs may include songs its music tower heard"
        )
        log.warning("%s: %s", align_model, note)
        source["note"] = note
    source["checked"] = not unknown
    return corpus_splits, source


def _require_val_and_test(corpus: Path, before: dict[str, str], splits: dict[str, str], align_model: Path) -> None:
    """One sentence when following ``align_model`` emptied the val or the test split (song id → split ``before``/after)."""
    empty = [split for split in ("val", "test") if split in before.values() and split not in splits.values()]
    if empty:
        counts = ", ".join(f"{sum(1 for s in splits.values() if s == split)} {split}" for split in CARD_SPLITS)
        raise SongalignError(
            f"following the splits of {align_model} leaves the captioner no {' and no '.join(empty)} song of "
            f"{corpus} ({counts}), because that model trained on (or lists as train) the others; caption a corpus "
            "with songs it did not train on, or take a music tower trained on fewer of them"
        )
