"""From the transcriber's outputs to text and notes: CTC decoding, onset peak picking, note building.

Lyrics (emissions: CTC log-probabilities, float32, shape ``(T, V)``, ``V = len(SYMBOLS)``, blank at 0):

- :func:`greedy_decode`: best symbol per frame, repeats collapsed, blanks dropped.
- :class:`BeamSearchDecoder`: flashlight-text's lexicon decoder with a word n-gram KenLM (the paper's
  "CTC beam search, beam 25, with a 5-gram LM"). The lexicon is the LM's words spelled in characters,
  each followed by the space symbol, which is the decoder's word separator ("silence" token). A word
  outside the lexicon cannot be written (unless ``unk_score`` is raised, when it is written ``<unk>``).
- :class:`LexiconFreeBeamSearchDecoder`: flashlight-text's lexicon-free decoder with a *character*
  n-gram KenLM (:func:`songalign.transcribe.lm.build_character_arpa`), which can spell any word.

The decoders score a hypothesis as ``Σ emission log-probabilities (natural log) + lm_weight · Σ KenLM
scores (log10) + word_score · words + sil_score · spaces``; the log10 is KenLM's, kept as it is, so
``lm_weight = 2`` weighs the LM's natural-log probabilities by about 0.87.

Named weights (``decode.lm_weights``, :data:`LM_WEIGHTS`): ``songalign`` (``lm_weight`` 2, ``word_score``
0: a common starting point, tune on validation data) and ``authors``, the authors' code's scorer
(DeepSpeech's ``ds_ctcdecoder``: α = 0.75 on *natural-log* LM probabilities — it divides KenLM's log10
by log10 e — and β = 1.85 per word), here ``lm_weight = 0.75 · ln 10 ≈ 1.727`` on the log10 scores and
``word_score = 1.85``. Only the weights are theirs: their prefix beam search is not flashlight's.

Notes (pitch posterior ``(T, 129)`` and onset probability ``(T,)`` at 16 ms frames):

- :func:`pick_onsets`: a frame is an onset when its probability reaches ``threshold`` and is the
  largest within ``±window_seconds/2`` of it (the first frame of a plateau wins).
- :func:`notes_from_onsets` (``decode.note_rule: onsets``, the default; the paper gives no exact rule):
  each onset starts a note that lasts until the next onset, cut back to its last pitched frame; its
  pitch is the median of the framewise best pitch classes.
- :func:`notes_from_pitch_changes` (``note_rule: pitch_changes``): the notes the authors' code makes
  (its ``formalize_to_intervals``): a note starts at an onset or wherever the framewise best class
  changes, lasts until the next start and takes its class; notes of "no pitch" are dropped.
- :func:`notes_from_emissions`: the onsets picked and the notes made as :class:`DecodeSettings` say.

Settings and whole files:

- :class:`DecodeSettings` (a recipe's ``decode`` section) and :func:`decode_settings`: the model card's
  recipe, then the options a command was given; :func:`language_model_file` picks the ARPA file.
- :func:`transcribe_emissions`: one file's emissions to a :class:`FileTranscription` (greedy text, text
  with the LM, notes), as ``transcribe run`` prints and writes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from songalign.corpus.records import Note
from songalign.errors import BadInputError, MissingDependencyError, SongalignError, first_validation_problem
from songalign.transcribe import lm as lm_building
from songalign.transcribe.symbols import (
    BLANK_INDEX,
    CHARACTERS,
    FRAME_SECONDS,
    NO_PITCH,
    SPACE_INDEX,
    SYMBOLS,
    normalise_text,
)

DEFAULT_BEAM_SIZE = 25
"""The paper's beam."""
DEFAULT_LM_WEIGHT = 2.0
"""Multiplies KenLM's log10 scores; a common starting point (tune on validation data)."""
DEFAULT_WORD_SCORE = 0.0
"""Added per word written; negative values favour fewer, longer words."""
AUTHORS_ALPHA = 0.75
"""The authors' scorer's LM weight α, on natural-log LM probabilities."""
AUTHORS_BETA = 1.85
"""The authors' scorer's word insertion bonus β, added per word."""


@dataclass(frozen=True)
class LmWeights:
    """The beam search's LM weights: ``lm_weight`` multiplies KenLM's log10 scores, ``word_score`` is added per word."""

    lm_weight: float
    word_score: float


LM_WEIGHTS = {
    "songalign": LmWeights(DEFAULT_LM_WEIGHT, DEFAULT_WORD_SCORE),
    "authors": LmWeights(AUTHORS_ALPHA * math.log(10), AUTHORS_BETA),
}
"""Named weights (``decode.lm_weights``): ours, and the authors' α = 0.75 (natural log) and β = 1.85 converted
to flashlight's log10 scores (see the module docstring)."""
DEFAULT_SIL_SCORE = 0.0
"""Added per frame of the space symbol."""
DEFAULT_BEAM_THRESHOLD = 50.0
"""Hypotheses scoring this far (natural-log units) below the best one are pruned."""

PAPER_ONSET_THRESHOLD = 0.4
"""The paper's onset threshold."""
AUTHORS_ONSET_THRESHOLD = 0.5
"""The threshold in the authors' code."""
ONSET_WINDOW_SECONDS = 0.05
"""The paper's peak-picking window (centred on the frame)."""

_IMPOSSIBLE = -1.0e4  # log-probability of the symbols the appended end frame rules out


def _emission_matrix(log_probs: Any, symbols: int = len(SYMBOLS)) -> np.ndarray:
    """``log_probs`` as a float32 C-contiguous ``(T, V)`` array, checked to have ``V == symbols`` (accepts torch
    tensors)."""
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().cpu().numpy()
    emissions = np.ascontiguousarray(np.asarray(log_probs, dtype=np.float32))
    if emissions.ndim != 2 or emissions.shape[1] != symbols:
        raise SongalignError(
            f"CTC emissions must have shape (frames, {symbols}) with the blank first, got {emissions.shape}; "
            "pass the transcriber's log_probs"
        )
    return emissions


def _join_spaces(text: str) -> str:
    """``text`` with runs of spaces made one and the ends trimmed."""
    return " ".join(word for word in text.split(" ") if word)


def greedy_tokens(log_probs: Any, symbols: int = len(SYMBOLS)) -> list[int]:
    """The best-path symbol indices of ``log_probs`` ``(T, V)`` (``V == symbols``: characters by default, or
    phonemes): argmax per frame, repeats collapsed, blanks dropped."""
    emissions = _emission_matrix(log_probs, symbols)
    if not len(emissions):
        return []
    best = emissions.argmax(axis=1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(i) for i in best[keep] if i != BLANK_INDEX]


def greedy_decode(log_probs: Any) -> str:
    """The best-path text of ``log_probs`` ``(T, V)`` over :data:`~songalign.transcribe.symbols.SYMBOLS`
    (:func:`greedy_tokens` as characters).

    Repeats collapse before blanks are dropped, so a doubled letter needs a blank between its two
    frames ("hel_lo" → "hello", "hello" → "helo"); runs of spaces become one and the ends are trimmed.
    """
    return _join_spaces("".join(SYMBOLS[i] for i in greedy_tokens(log_probs)))


def greedy_phonemes(log_probs: Any) -> str:
    """The best-path phonemes of a phoneme model's ``log_probs`` ``(T, V)`` over
    :data:`~songalign.transcribe.phonemes.PHONEME_SYMBOLS`, separated by spaces (as
    :class:`~songalign.transcribe.data.SongTargets` writes a phoneme model's ``text``)."""
    from songalign.transcribe.phonemes import PHONEME_SYMBOLS

    return " ".join(PHONEME_SYMBOLS[i] for i in greedy_tokens(log_probs, len(PHONEME_SYMBOLS)))


def _flashlight() -> tuple[Any, Any, Any]:
    try:
        from flashlight.lib.text import decoder
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary
    except ImportError as error:  # the transcribe extra installs it
        raise MissingDependencyError(
            "flashlight-text", "CTC beam search with a language model", extra="transcribe"
        ) from error
    return decoder, KenLM, Dictionary


def _with_end_frame(emissions: np.ndarray) -> np.ndarray:
    """``emissions`` plus one frame certain of the space symbol.

    flashlight's lexicon decoder completes a word on the separator that follows its spelling and, at
    the end, keeps only hypotheses between words. Without the extra frame, a last word the model ends
    without a space can only complete by reading the final frame as a space, whatever the model said
    there. Every hypothesis pays the same for the extra frame (nothing, or ``sil_score``).
    """
    end = np.full((1, emissions.shape[1]), _IMPOSSIBLE, dtype=np.float32)
    end[0, SPACE_INDEX] = 0.0
    return np.ascontiguousarray(np.concatenate([emissions, end]))


def _spellable(word: str) -> bool:
    return bool(word) and all(ch in CHARACTERS and ch != " " for ch in word)


class BeamSearchDecoder:
    """CTC beam search with a word n-gram LM over a lexicon (flashlight-text ``LexiconDecoder`` + ``KenLM``).

    ``arpa_path``: an ARPA word LM (e.g. from :func:`songalign.transcribe.lm.build_arpa`).
    ``lexicon_words``: the words the decoder may write (normalised); default the LM's vocabulary. An
    entry that normalises to nothing or to several words is left out. ``beam_size``: hypotheses kept per frame (25, the
    paper's). ``beam_size_token``: symbols tried per frame (default all). ``beam_threshold``: pruning
    margin in score units. ``lm_weight``, ``word_score``, ``sil_score``, ``unk_score``: see the module
    docstring (``unk_score = -inf`` forbids unknown words). ``log_add``: merge equal hypotheses by
    log-sum-exp instead of max.
    """

    def __init__(
        self,
        arpa_path: str | Path,
        lexicon_words: Iterable[str] | None = None,
        *,
        beam_size: int = DEFAULT_BEAM_SIZE,
        beam_size_token: int | None = None,
        beam_threshold: float = DEFAULT_BEAM_THRESHOLD,
        lm_weight: float = DEFAULT_LM_WEIGHT,
        word_score: float = DEFAULT_WORD_SCORE,
        sil_score: float = DEFAULT_SIL_SCORE,
        unk_score: float = -math.inf,
        log_add: bool = False,
    ):
        decoder, KenLM, Dictionary = _flashlight()
        self.arpa_path = Path(arpa_path)
        words = lm_building.read_vocabulary(self.arpa_path) if lexicon_words is None else tuple(lexicon_words)
        normalised = (normalise_text(word) for word in words)
        self.words: tuple[str, ...] = tuple(dict.fromkeys(w for w in normalised if _spellable(w)))
        if not self.words:
            raise SongalignError(
                f"{self.arpa_path}: the decoder's lexicon has no word spelled in a-z and ' ; "
                "build the LM from lyric lines or pass lexicon_words"
            )
        self.word_dictionary = Dictionary([*self.words, lm_building.UNKNOWN])
        self.unknown_index = len(self.words)
        self.lm = KenLM(str(self.arpa_path), self.word_dictionary)

        # Each word's spelling ends in the separator; the trie's nodes carry the best unigram score
        # below them (smearing), which the decoder uses as look-ahead inside a word.
        self.trie = decoder.Trie(len(SYMBOLS), SPACE_INDEX)
        start = self.lm.start(False)
        for index, word in enumerate(self.words):
            _, score = self.lm.score(start, index)
            spelling = [SYMBOLS.index(ch) for ch in word] + [SPACE_INDEX]
            self.trie.insert(spelling, index, score)
        self.trie.smear(decoder.SmearingMode.MAX)

        self.options = decoder.LexiconDecoderOptions(
            beam_size=beam_size,
            beam_size_token=len(SYMBOLS) if beam_size_token is None else beam_size_token,
            beam_threshold=beam_threshold,
            lm_weight=lm_weight,
            word_score=word_score,
            unk_score=unk_score,
            sil_score=sil_score,
            log_add=log_add,
            criterion_type=decoder.CriterionType.CTC,
        )
        self.decoder = decoder.LexiconDecoder(
            self.options, self.trie, self.lm, SPACE_INDEX, BLANK_INDEX, self.unknown_index, [], False
        )

    @classmethod
    def from_lines(
        cls, lines: Iterable[str], workdir: str | Path, order: int = lm_building.DEFAULT_ORDER, **options: Any
    ) -> BeamSearchDecoder:
        """A decoder whose word LM of ``order`` is built from lyric ``lines`` into ``workdir/lm.arpa``."""
        summary = lm_building.build_arpa(lines, Path(workdir) / "lm.arpa", order=order)
        return cls(summary.path, summary.vocabulary, **options)

    def decode(self, log_probs: Any) -> str:
        """The best text for CTC ``log_probs`` ``(T, V)``: words separated by single spaces ("" for no frames)."""
        return self.decode_scored(log_probs)[0]

    def decode_scored(self, log_probs: Any) -> tuple[str, float]:
        """``(text, score)``: the best text for CTC ``log_probs`` ``(T, V)`` and its score (the module docstring's
        sum: acoustic natural log + ``lm_weight`` · KenLM log10 + ``word_score`` · words); ``("", 0.0)`` for no
        frames, ``("", -inf)`` when no hypothesis survives."""
        emissions = _emission_matrix(log_probs)
        if not len(emissions):
            return "", 0.0
        emissions = _with_end_frame(emissions)
        # flashlight reads the matrix through a raw pointer: it must be float32, C-contiguous and alive.
        results = self.decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        if not results:
            return "", -math.inf
        text = " ".join(self.word_dictionary.get_entry(i) for i in results[0].words if i >= 0)
        return text, float(results[0].score)

    def decode_batch(self, batch: Sequence[Any]) -> list[str]:
        """:meth:`decode` of each emission matrix of ``batch`` (they may differ in length)."""
        return [self.decode(log_probs) for log_probs in batch]


class LexiconFreeBeamSearchDecoder:
    """CTC beam search with a character n-gram LM and no lexicon (flashlight-text ``LexiconFreeDecoder``).

    ``arpa_path``: a character LM from :func:`songalign.transcribe.lm.build_character_arpa` (spaces
    spelled :data:`~songalign.transcribe.lm.WORD_SEPARATOR`). It can write words no lexicon holds; the
    options mean what they mean for :class:`BeamSearchDecoder` (KenLM scores per character here).
    """

    def __init__(
        self,
        arpa_path: str | Path,
        *,
        beam_size: int = DEFAULT_BEAM_SIZE,
        beam_size_token: int | None = None,
        beam_threshold: float = DEFAULT_BEAM_THRESHOLD,
        lm_weight: float = DEFAULT_LM_WEIGHT,
        sil_score: float = DEFAULT_SIL_SCORE,
        log_add: bool = False,
    ):
        decoder, KenLM, Dictionary = _flashlight()
        self.arpa_path = Path(arpa_path)
        if not self.arpa_path.is_file():
            lm_building.read_vocabulary(self.arpa_path)  # raises the file's error
        # The LM knows the symbols by name; the blank maps to its <unk> and is never scored.
        names = [lm_building.WORD_SEPARATOR if s == " " else s for s in SYMBOLS]
        names[BLANK_INDEX] = lm_building.UNKNOWN
        self.token_dictionary = Dictionary(names)
        self.lm = KenLM(str(self.arpa_path), self.token_dictionary)
        self.options = decoder.LexiconFreeDecoderOptions(
            beam_size=beam_size,
            beam_size_token=len(SYMBOLS) if beam_size_token is None else beam_size_token,
            beam_threshold=beam_threshold,
            lm_weight=lm_weight,
            sil_score=sil_score,
            log_add=log_add,
            criterion_type=decoder.CriterionType.CTC,
        )
        self.decoder = decoder.LexiconFreeDecoder(self.options, self.lm, SPACE_INDEX, BLANK_INDEX, [])

    @classmethod
    def from_lines(
        cls,
        lines: Iterable[str],
        workdir: str | Path,
        order: int = lm_building.DEFAULT_CHARACTER_ORDER,
        **options: Any,
    ) -> LexiconFreeBeamSearchDecoder:
        """A decoder whose character LM of ``order`` is built from lyric ``lines`` into ``workdir/chars.arpa``."""
        summary = lm_building.build_character_arpa(lines, Path(workdir) / "chars.arpa", order=order)
        return cls(summary.path, **options)

    def decode(self, log_probs: Any) -> str:
        """The best text for CTC ``log_probs`` ``(T, V)`` ("" for no frames)."""
        emissions = _emission_matrix(log_probs)
        if not len(emissions):
            return ""
        results = self.decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        if not results:
            return ""
        # The path holds one symbol per frame (plus the start and end separators): collapse it as CTC does.
        tokens = list(results[0].tokens)
        text = "".join(SYMBOLS[t] for k, t in enumerate(tokens) if t != BLANK_INDEX and (k == 0 or t != tokens[k - 1]))
        return _join_spaces(text)


def pick_onsets(
    onset_prob: Any,
    frame_seconds: float = FRAME_SECONDS,
    window_seconds: float = ONSET_WINDOW_SECONDS,
    threshold: float = PAPER_ONSET_THRESHOLD,
) -> np.ndarray:
    """Onset times (s, ascending) picked from the framewise onset probability ``onset_prob`` ``(T,)``.

    Frame ``t`` (time ``t · frame_seconds``) is an onset when ``onset_prob[t] >= threshold`` and it is
    the largest value among the frames within ``±window_seconds/2`` of it, i.e. ``|j - t| <=
    floor(window_seconds / 2 / frame_seconds)`` (1 frame for the paper's 50 ms and 16 ms frames); when
    frames in the window tie, only the first is an onset. ``threshold`` is the paper's 0.4 by default;
    :data:`AUTHORS_ONSET_THRESHOLD` (0.5) is the authors' code.
    """
    prob = np.asarray(onset_prob.detach().cpu().numpy() if hasattr(onset_prob, "detach") else onset_prob, dtype=float)
    if prob.ndim != 1:
        raise SongalignError(f"the onset probability must be one value per frame (shape (T,)), got {prob.shape}")
    if frame_seconds <= 0 or window_seconds < 0:
        raise SongalignError("pick_onsets needs frame_seconds > 0 and window_seconds >= 0")
    half = int(math.floor(window_seconds / 2 / frame_seconds + 1e-9))
    onsets = []
    for t in np.flatnonzero(prob >= threshold):
        before = prob[max(0, t - half) : t]
        after = prob[t + 1 : t + half + 1]
        if (before < prob[t]).all() and (after <= prob[t]).all():
            onsets.append(t)
    return np.asarray(onsets, dtype=float) * frame_seconds


def _best_classes(pitch_probs: Any) -> np.ndarray:
    """``(T,)`` int: the most probable class per frame of the pitch posterior ``(T, 129)`` (checked)."""
    probs = np.asarray(pitch_probs.detach().cpu().numpy() if hasattr(pitch_probs, "detach") else pitch_probs)
    if probs.ndim != 2 or probs.shape[1] != NO_PITCH + 1:
        raise SongalignError(f"the pitch posterior must have shape (frames, {NO_PITCH + 1}), got {probs.shape}")
    return probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)


def _onset_frames(onsets: Sequence[float] | np.ndarray, frames: int, frame_seconds: float) -> list[int]:
    """The frames ``round(onset / frame_seconds)`` of ``onsets`` (s), sorted, merged, those past the end dropped."""
    starts = sorted({int(round(float(onset) / frame_seconds)) for onset in onsets})
    return [s for s in starts if 0 <= s < frames]


def notes_from_onsets(
    onsets: Sequence[float] | np.ndarray,
    pitch_probs: Any,
    frame_seconds: float = FRAME_SECONDS,
) -> list[Note]:
    """Notes (seconds, MIDI) from onset times ``onsets`` (s) and the pitch posterior ``pitch_probs`` ``(T, 129)``.

    Rule: the onsets (sorted; each at frame ``round(onset / frame_seconds)``, those past the end
    dropped, duplicates merged) split the frames into segments, each from one onset up to the next
    onset (or the end). In a segment, each frame's pitch is its most probable class; the note starts
    at the onset and ends after the segment's last pitched frame (pitch stays "no pitch", class 128,
    from there to the next onset). Its pitch is the median of the pitched frames' classes (the lower
    median when their number is even, so it is always a MIDI note). A segment without a pitched frame
    gives no note.
    """
    best = _best_classes(pitch_probs)
    frames = len(best)
    starts = _onset_frames(onsets, frames, frame_seconds)
    notes = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else frames
        segment = best[start:stop]
        pitched = np.flatnonzero(segment != NO_PITCH)
        if not len(pitched):
            continue
        classes = np.sort(segment[pitched])
        end = start + int(pitched[-1]) + 1
        notes.append(
            Note(start=start * frame_seconds, end=end * frame_seconds, pitch=float(classes[(len(classes) - 1) // 2]))
        )
    return notes


def notes_from_pitch_changes(
    onsets: Sequence[float] | np.ndarray,
    pitch_probs: Any,
    frame_seconds: float = FRAME_SECONDS,
) -> list[Note]:
    """Notes (seconds, MIDI) as the authors' code makes them (``formalize_to_intervals``), from onset times
    ``onsets`` (s) and the pitch posterior ``pitch_probs`` ``(T, 129)``.

    Rule: each frame's class is its most probable one (128 = no pitch). A note starts at every onset
    frame (``round(onset / frame_seconds)``; those past the end dropped) and at every frame whose class
    differs from the frame before; it lasts until the next start (or the end) and takes its interval's
    most common class — which, as every change of class starts a note, is the class of all its frames.
    Notes of class 128 are dropped. As in their code, the class "before" frame 0 is 0, so a first
    frame of MIDI 0 starts a note only when it is an onset (frames before the first start belong to
    no note). One onset, 10 frames at MIDI 60 then 10 at 62: two notes (:func:`notes_from_onsets`
    makes one).
    """
    best = _best_classes(pitch_probs)
    frames = len(best)
    changes = np.flatnonzero(np.diff(best, prepend=0) != 0)
    starts = sorted({*changes.tolist(), *_onset_frames(onsets, frames, frame_seconds)})
    notes = []
    for k, start in enumerate(starts):
        pitch = int(best[start])
        if pitch == NO_PITCH:
            continue
        stop = starts[k + 1] if k + 1 < len(starts) else frames
        notes.append(Note(start=start * frame_seconds, end=stop * frame_seconds, pitch=float(pitch)))
    return notes


NOTE_RULES = {"onsets": notes_from_onsets, "pitch_changes": notes_from_pitch_changes}
"""The ways of making notes from onsets and pitch posteriors, by the name ``decode.note_rule`` gives."""


# -- settings and whole files ---------------------------------------------------------------------------


class DecodeSettings(BaseModel):
    """Beam search with a word n-gram LM built from the training songs' lyrics (:mod:`.lm`), and note picking."""

    model_config = ConfigDict(extra="forbid")

    lm_order: int = Field(5, ge=2, description="n-gram order (the paper's 5-gram)")
    beam_size: int = Field(DEFAULT_BEAM_SIZE, gt=0)
    lm_weights: Literal["songalign", "authors"] = Field(
        "songalign",
        description="named LM weights: songalign (2.0, 0) or authors (α 0.75 on natural-log scores, β 1.85 per word)",
    )
    lm_weight: float | None = Field(
        None, ge=0, description="weight of the LM's log10 score; null: the named weights' (lm_weights)"
    )
    word_score: float | None = Field(None, description="score added per word; null: the named weights' (lm_weights)")
    onset_threshold: float = Field(
        PAPER_ONSET_THRESHOLD, gt=0, lt=1, description="peak-picking threshold (the code's 0.5)"
    )
    note_rule: Literal["onsets", "pitch_changes"] = Field(
        "onsets",
        description="onsets: a note per onset, its median class (ours); pitch_changes: a note also at each change "
        "of the framewise class (the authors' code)",
    )

    def weights(self) -> LmWeights:
        """The beam search's weights: ``lm_weight`` and ``word_score`` where given, else those ``lm_weights`` names."""
        named = LM_WEIGHTS[self.lm_weights]
        return LmWeights(
            named.lm_weight if self.lm_weight is None else self.lm_weight,
            named.word_score if self.word_score is None else self.word_score,
        )


DECODE_OPTIONS = {
    "beam_size": "--beam",
    "lm_weights": "--lm-weights",
    "lm_weight": "--lm-weight",
    "word_score": "--word-score",
    "onset_threshold": "--onset-threshold",
    "note_rule": "--note-rule",
}
"""The settings a command may give, by the option that gives each."""


def decode_settings(model_dir: str | Path, **given: float | int | str | None) -> DecodeSettings:
    """The decoding settings of the transcriber in ``model_dir``: its card's recipe (``decode``), then the
    ``given`` options (keys of :data:`DECODE_OPTIONS`; None = not given). Named ``lm_weights`` given here
    replace the recipe's ``lm_weight`` and ``word_score`` too (an explicit ``lm_weight`` or ``word_score``
    given here still wins). One sentence naming the option on a bad value."""
    from songalign.checkpoint import read_card

    recipe_decode = dict((read_card(model_dir).get("recipe") or {}).get("decode") or {})
    given = {key: value for key, value in given.items() if value is not None}
    if "lm_weights" in given:
        recipe_decode.pop("lm_weight", None)
        recipe_decode.pop("word_score", None)
    chosen = {**recipe_decode, **given}
    try:
        return DecodeSettings.model_validate(chosen)
    except ValueError as error:
        field, problem = first_validation_problem(error)
        where = DECODE_OPTIONS.get(field, f"the recipe's decode.{field}")
        raise SongalignError(f"decoding setting '{field}' ({where}): {problem}; fix the option") from None


def beam_search_decoder(arpa_path: str | Path, settings: DecodeSettings) -> BeamSearchDecoder:
    """The word-LM beam search over ``arpa_path`` with the beam size and LM weights of ``settings``."""
    weights = settings.weights()
    return BeamSearchDecoder(
        arpa_path, beam_size=settings.beam_size, lm_weight=weights.lm_weight, word_score=weights.word_score
    )


def language_model_file(model_dir: str | Path, lm: Path | None, no_lm: bool) -> Path | None:
    """The ARPA file to decode with: ``lm`` when given, else the model folder's own ``lm.arpa`` (written at
    training, from the training songs' lyrics); None with ``no_lm`` or when there is none."""
    if no_lm:
        return None
    if lm is not None:
        if not lm.is_file():
            raise BadInputError(lm, "is not a file; give an ARPA language model")
        return lm
    own = Path(model_dir) / lm_building.LM_FILE
    return own if own.is_file() else None


NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: float) -> str:
    """``"A4"`` for MIDI 69 (the nearest semitone)."""
    midi = int(round(pitch))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def midi_number(pitch: float) -> int | float:
    """``pitch`` as an int when it is a whole MIDI number (JSON and CSV then write ``60``, not ``60.0``)."""
    return int(pitch) if float(pitch).is_integer() else float(pitch)


CSV_COLUMNS = ("audio", "kind", "start", "end", "pitch", "text")
"""The columns of ``transcribe run --format csv``."""


@dataclass
class FileTranscription:
    """What a transcriber found in one file: texts (None where not decoded) and notes (None without a
    pitch network); ``vocals`` says what its vocal channel held, ``duration`` is in seconds."""

    audio: str
    vocals: str
    duration: float
    greedy: str | None
    lm: str | None
    notes: list[Note] | None

    def to_dict(self) -> dict[str, Any]:
        notes = None
        if self.notes is not None:
            notes = [{"onset": n.start, "offset": n.end, "pitch": midi_number(n.pitch)} for n in self.notes]
        return {
            "audio": self.audio,
            "vocals": self.vocals,
            "duration": self.duration,
            "greedy": self.greedy,
            "lm": self.lm,
            "notes": notes,
        }

    def csv_rows(self) -> list[list[str]]:
        """Rows of :data:`CSV_COLUMNS`: one per transcription (kind greedy/lm), one per note."""
        rows = [
            [self.audio, kind, "", "", "", text]
            for kind, text in (("greedy", self.greedy), ("lm", self.lm))
            if text is not None
        ]
        rows += [
            [self.audio, "note", f"{n.start:.3f}", f"{n.end:.3f}", str(midi_number(n.pitch)), ""]
            for n in self.notes or []
        ]
        return rows


def notes_from_emissions(
    onset_prob: Any, pitch_probs: Any, frame_seconds: float, settings: DecodeSettings
) -> list[Note]:
    """Notes (seconds, MIDI) from the onset probability ``(T,)`` and pitch posterior ``(T, 129)``: onsets picked
    at ``settings.onset_threshold`` (:func:`pick_onsets`), notes made by ``settings.note_rule`` (:data:`NOTE_RULES`)."""
    onsets = pick_onsets(onset_prob, frame_seconds, threshold=settings.onset_threshold)
    return NOTE_RULES[settings.note_rule](onsets, pitch_probs, frame_seconds)


def transcribe_emissions(
    emissions: Any,
    decoder: BeamSearchDecoder | None,
    settings: DecodeSettings,
    *,
    audio: str,
    vocals: str,
    duration: float,
) -> FileTranscription:
    """One file's :class:`~songalign.transcribe.model.Emissions` decoded: greedy text and, with a ``decoder``,
    the text with its LM (lyrics models); notes from picked onsets (models with a pitch network)."""
    greedy = with_lm = notes = None
    if emissions.log_probs is not None:
        greedy = greedy_decode(emissions.log_probs)
        with_lm = decoder.decode(emissions.log_probs) if decoder is not None else None
    if emissions.onset is not None and emissions.pitch is not None:
        notes = notes_from_emissions(emissions.onset, emissions.pitch, emissions.frame_seconds, settings)
    return FileTranscription(audio, vocals, duration, greedy, with_lm, notes)
