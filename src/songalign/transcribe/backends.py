"""Acoustic backends: one interface over every model that hears lyrics (:data:`songalign.transcribe.BACKENDS`).

A backend hears a :class:`Sound` (a song's mix and the vocal channel it chose, at one rate) and gives

- :meth:`Backend.transcribe`: the words it hears, each with its times (seconds) and a probability;
- :meth:`Backend.align`: known lyric lines timed, with a confidence per word and line
  (:class:`~songalign.corpus.lyrics_files.ScoredLyrics`; lines that cannot be placed are untimed or unsure);
- :meth:`Backend.score`: the log-likelihood (natural log) of each candidate lyric text, for ``rank-lyrics``.

A **CTC backend** (:class:`CtcBackend`: ``crnn``, ``wav2vec2``) only has to give per-frame CTC emissions over
songalign's symbols (:data:`~songalign.transcribe.symbols.SYMBOLS`: blank, space, apostrophe, a-z): alignment
is :func:`~songalign.transcribe.trust.align_scored` (our Viterbi), scores are
:func:`~songalign.transcribe.rank.ctc_log_likelihoods`, transcription is the greedy path's words
(:func:`greedy_words`). A model with its own vocabulary maps its columns onto ours (:class:`CtcVocabulary`).
``whisper`` (:mod:`songalign.transcribe.whisper`) implements the three itself.

Each backend declares the ``languages`` it covers (lower-case English names) and its ``digest`` (the model
files' SHA-256, written into the JSON export). Backends are built by name with
``BACKENDS.build(name, model=..., **options)``; other packages add theirs through the
``songalign.transcribe_backends`` entry points.
"""

from __future__ import annotations

import math
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from songalign.corpus.lyrics_files import ScoredLyrics
from songalign.errors import SongalignError
from songalign.transcribe.align import LETTERS, Spelling
from songalign.transcribe.symbols import BLANK_INDEX, CHARACTERS, EMISSION_SECONDS, SAMPLE_RATE, SPACE_INDEX, SYMBOLS
from songalign.transcribe.trust import MIN_CONFIDENCE


@dataclass
class Sound:
    """What a backend hears of one song: ``mix`` and ``vocals`` mono float32 ``(N,)`` at ``rate`` Hz
    (``vocals`` None: the vocal channel is a copy of the mix); ``held`` says what the vocal channel held."""

    mix: np.ndarray
    vocals: np.ndarray | None = None
    rate: int = SAMPLE_RATE
    held: str = "mix copy"
    _activity: dict[float, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def voice(self) -> np.ndarray:
        """The samples a single-channel model hears: the vocals, else the mix, ``(N,)`` at :attr:`rate`."""
        return self.mix if self.vocals is None else self.vocals

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.mix) / self.rate

    def at(self, rate: int) -> Sound:
        """The same sound at ``rate`` Hz (itself when it is already)."""
        if rate == self.rate:
            return self
        import soxr

        def resampled(samples: np.ndarray | None) -> np.ndarray | None:
            return None if samples is None else soxr.resample(samples, self.rate, rate).astype(np.float32)

        return Sound(resampled(self.mix), resampled(self.vocals), rate, self.held)  # type: ignore[arg-type]

    def activity(self, frames: int, frame_seconds: float) -> np.ndarray:
        """Vocal activity per frame, boolean ``(frames,)`` (:func:`~songalign.transcribe.activity.vocal_activity`):
        the vocals against the accompaniment (``mix − vocals``); for a mix copy, the mix against the floor only.

        Measured once per ``frame_seconds`` over the whole sound (at least ``frames`` frames) and kept: a
        command that refuses audio without singing and the backend that then aligns share one measurement.
        """
        from songalign.transcribe.activity import accompaniment_of, vocal_activity

        kept = self._activity.get(frame_seconds)
        if kept is None or len(kept) < frames:
            whole = max(frames, math.ceil(len(self.mix) / max(1, round(frame_seconds * self.rate))))
            backing = None if self.vocals is None else accompaniment_of(self.mix, self.vocals)
            kept = vocal_activity(self.voice, self.rate, whole, backing, frame_seconds=frame_seconds)
            self._activity[frame_seconds] = kept
        return kept[:frames].copy()


@dataclass
class TimedWord:
    """A word a backend heard: ``text``, ``start`` and ``end`` in seconds, ``probability`` in [0, 1]."""

    text: str
    start: float
    end: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.text, "start": self.start, "end": self.end, "probability": self.probability}


def foreign_letters(text: str, script: str = "LATIN") -> list[str]:
    """The distinct letters of ``text`` outside ``script`` (a Unicode script's name prefix), in order."""
    seen = dict.fromkeys(ch for ch in text if ch.isalpha() and not unicodedata.name(ch, "").startswith(script))
    return list(seen)


class Backend(ABC):
    """An acoustic model that transcribes, aligns known lyrics and scores candidates (module docstring)."""

    name: ClassVar[str]
    languages: tuple[str, ...] = ()
    """The languages it covers (lower-case English names, e.g. ``("english",)``)."""
    default_vocals: ClassVar[str] = "spleeter"
    """The vocal channel it hears when the caller names none (a ``--vocals`` value)."""
    digest: str = ""
    """SHA-256 of the model's files (empty when unknown)."""
    min_confidence: float = MIN_CONFIDENCE
    """The confidence under which :meth:`align` marks a line unsure when the caller gives no threshold."""
    activity_seconds: float = EMISSION_SECONDS
    """The frame (seconds) :meth:`align` measures vocal activity in (:meth:`Sound.activity`)."""

    @abstractmethod
    def transcribe(self, sound: Sound) -> list[TimedWord]:
        """The words heard in ``sound``, in order, with times in seconds from its start."""

    @abstractmethod
    def align(
        self,
        sound: Sound,
        lines: Sequence[str],
        *,
        min_confidence: float | None = None,
        activity: bool = True,
        language: str | None = None,
    ) -> ScoredLyrics:
        """``lines`` (lyric lines as written) timed in ``sound``; lines under ``min_confidence`` (None: the
        backend's :attr:`min_confidence`) are unsure. With ``activity``, lyrics keep to where
        :meth:`Sound.activity` (in frames of :attr:`activity_seconds`) hears singing, as far as the backend can.
        ``language``: the lyrics' language as an espeak-ng code (``"fr"``; None: the backend's own), which a
        phoneme model spells them in and a backend that hears one language checks.
        Raises :class:`SongalignError` in one sentence when no line can be aligned."""

    @abstractmethod
    def score(self, sound: Sound, candidates: Sequence[str]) -> np.ndarray:
        """``(len(candidates),)`` natural-log likelihoods of each candidate text given ``sound`` (−inf: impossible)."""

    def transcribe_and_align(
        self, sound: Sound, lines: Sequence[str], *, min_confidence: float | None = None, activity: bool = True
    ) -> tuple[list[TimedWord], ScoredLyrics]:
        """:meth:`transcribe` and :meth:`align` of one sound, for an evaluation that wants both (a CTC backend
        hears the sound once for the two)."""
        return self.transcribe(sound), self.align(sound, lines, min_confidence=min_confidence, activity=activity)

    def describe(self) -> str:
        """One line naming the backend and its model, for a command's output."""
        return self.name


class CtcVocabulary:
    """How a CTC model's output columns map onto songalign's :data:`~songalign.transcribe.symbols.SYMBOLS`.

    ``tokens`` maps each of the model's token strings to its column; ``blank`` is the model's blank token and
    ``word_delimiter`` the token it writes between words (wav2vec2's ``|``; a plain space works too). A letter
    maps to its lower-case token, else its upper-case one. :meth:`emissions` gives ``(T, 29)`` log-probabilities
    in our symbol order: the blank's, the delimiter's, the apostrophe's and each letter's column (``-inf`` for a
    character the model does not write, listed in :attr:`missing`); the model's other tokens (digits, ``<unk>``,
    letters outside a-z) are left out, not renormalised, so confidence compares our symbols only.
    """

    def __init__(self, tokens: Mapping[str, int], blank: str, word_delimiter: str = "|") -> None:
        if blank not in tokens:
            raise SongalignError(f"the CTC vocabulary has no blank token {blank!r}; give the model's pad/blank token")
        columns = [tokens[blank]]
        self.missing: list[str] = []
        for character in CHARACTERS:
            if character == " ":
                found = next((tokens[t] for t in (word_delimiter, " ") if t in tokens), None)
            else:
                found = next((tokens[t] for t in (character, character.upper()) if t in tokens), None)
            if found is None:
                self.missing.append(character)
            columns.append(-1 if found is None else found)
        if len(self.missing) > len(CHARACTERS) // 2:
            raise SongalignError(
                f"the CTC model's vocabulary lacks {len(self.missing)} of songalign's {len(CHARACTERS)} characters "
                "(space, apostrophe, a-z); give a model that writes English letters"
            )
        self.columns = np.asarray(columns, dtype=np.int64)

    def emissions(self, log_probs: np.ndarray) -> np.ndarray:
        """The model's ``(T, V_model)`` log-probabilities as ``(T, len(SYMBOLS))`` in our symbol order, float32."""
        log_probs = np.asarray(log_probs, dtype=np.float32)
        mapped = log_probs[:, np.maximum(self.columns, 0)]
        mapped[:, self.columns < 0] = -np.inf
        return mapped


def greedy_words(log_probs: np.ndarray, emission_seconds: float) -> list[TimedWord]:
    """The words of the best free CTC path through ``log_probs`` ``(T, len(SYMBOLS))``, with their times.

    A word is a run of character frames (repeats collapsed, blanks inside kept) between spaces; its start is
    its first character frame, its end one frame after its last (seconds = frame × ``emission_seconds``), its
    probability the geometric mean of the path's probability over its character frames. Raises
    :class:`SongalignError` in one sentence for emissions that are not log-probabilities over
    :data:`~songalign.transcribe.symbols.SYMBOLS` (:func:`~songalign.transcribe.align.as_log_probs`).
    """
    from songalign.transcribe.align import as_log_probs

    emissions = as_log_probs(log_probs)
    if emissions.shape[1] != len(SYMBOLS):
        raise SongalignError(
            f"the emissions have {emissions.shape[1]} symbols per frame but songalign writes {len(SYMBOLS)}; map a "
            "model's own vocabulary onto ours first (CtcVocabulary.emissions)"
        )
    best = emissions.argmax(axis=1)
    best_log = emissions.max(axis=1)
    words: list[TimedWord] = []
    letters: list[str] = []
    frames: list[int] = []
    previous = BLANK_INDEX

    def close() -> None:
        if letters:
            mean = float(np.mean(best_log[frames]))
            words.append(
                TimedWord(
                    "".join(letters),
                    frames[0] * emission_seconds,
                    (frames[-1] + 1) * emission_seconds,
                    math.exp(mean) if math.isfinite(mean) else 0.0,
                )
            )
        letters.clear()
        frames.clear()

    for frame, symbol in enumerate(best.tolist()):
        if symbol == SPACE_INDEX:
            close()
        elif symbol != BLANK_INDEX:
            if symbol != previous:
                letters.append(SYMBOLS[symbol])
            frames.append(frame)
        previous = symbol
    close()
    return words


class CtcBackend(Backend):
    """A backend whose model gives CTC emissions over songalign's symbols: :meth:`emissions` is all it writes.

    A model that writes phonemes (:attr:`writes_phonemes`) aligns lyrics spelt by espeak-ng in their language
    (:meth:`spelling`) and neither transcribes words nor scores candidates."""

    writes_phonemes: bool = False
    """Whether the emissions are over :data:`~songalign.transcribe.phonemes.PHONEME_SYMBOLS` (else SYMBOLS)."""

    @abstractmethod
    def emissions(self, sound: Sound) -> tuple[np.ndarray, float]:
        """``(log-probabilities (T, len(SYMBOLS)), seconds per frame)`` of ``sound`` (``PHONEME_SYMBOLS`` for a
        phoneme model)."""

    def spelling(self, language: str | None) -> Spelling:
        """How lyrics in ``language`` (an espeak-ng code; None: English) become this model's symbols: letters for
        a character model (whatever the language: accents are stripped), espeak-ng's phonemes for a phoneme one."""
        return LETTERS

    def _words_only(self, what: str) -> None:
        if self.writes_phonemes:
            raise SongalignError(
                f"{self.describe()} writes phonemes, so it aligns lyrics (transcribe align --language) but cannot "
                f"{what}; give a model that writes characters"
            )

    def transcribe(self, sound: Sound) -> list[TimedWord]:
        self._words_only("transcribe words")
        return greedy_words(*self.emissions(sound))

    def align(
        self,
        sound: Sound,
        lines: Sequence[str],
        *,
        min_confidence: float | None = None,
        activity: bool = True,
        language: str | None = None,
    ) -> ScoredLyrics:
        """Our Viterbi on the emissions (:func:`~songalign.transcribe.trust.align_scored`) of the lyrics as
        :meth:`spelling` spells them in ``language``, vocal activity per emission frame restricting where symbols go."""
        spelling = self.spelling(language)  # before the song is heard: an unknown language is one sentence
        log_probs, seconds = self.emissions(sound)
        return self.align_emissions(
            sound, log_probs, seconds, lines, min_confidence=min_confidence, activity=activity, spelling=spelling
        )

    def transcribe_and_align(
        self, sound: Sound, lines: Sequence[str], *, min_confidence: float | None = None, activity: bool = True
    ) -> tuple[list[TimedWord], ScoredLyrics]:
        log_probs, seconds = self.emissions(sound)
        aligned = self.align_emissions(
            sound, log_probs, seconds, lines, min_confidence=min_confidence, activity=activity
        )
        return greedy_words(log_probs, seconds), aligned

    def align_emissions(
        self,
        sound: Sound,
        log_probs: np.ndarray,
        seconds: float,
        lines: Sequence[str],
        *,
        min_confidence: float | None = None,
        activity: bool = True,
        spelling: Spelling = LETTERS,
    ) -> ScoredLyrics:
        """:meth:`align` on emissions already computed from ``sound`` (``log_probs`` ``(T, symbols)``,
        ``seconds`` per frame), so that a caller that also transcribes hears the song once; ``spelling``: how
        the lyrics are spelt in the emissions' symbols (letters, or a phoneme model's :meth:`spelling`)."""
        from songalign.transcribe.trust import align_scored

        return align_scored(
            log_probs,
            lines,
            emission_seconds=seconds,
            duration=sound.duration,
            active=sound.activity(len(log_probs), seconds) if activity else None,
            min_confidence=self.min_confidence if min_confidence is None else min_confidence,
            backend=self.name,
            model_digest=self.digest,
            vocals=sound.held,
            spelling=spelling,
        )

    def score(self, sound: Sound, candidates: Sequence[str]) -> np.ndarray:
        from songalign.transcribe.rank import ctc_log_likelihoods

        self._words_only("score candidate lyrics")
        return ctc_log_likelihoods([self.emissions(sound)[0]], list(candidates))[0]


class CrnnBackend(CtcBackend):
    """songalign's own CRNN transcriber (:class:`~songalign.transcribe.model.Transcriber`) from a model folder
    that writes lyrics; it hears the channel it was trained with unless the caller names another.

    ``transcriber``: the model of that folder, already loaded (an evaluation on a corpus's cached features
    aligns an oracle model's emissions, heard with the annotated notes, through :meth:`align_emissions`).
    """

    name = "crnn"
    languages = ("english",)

    def __init__(self, model: str | Path | None = None, *, transcriber: Any = None) -> None:
        from songalign.checkpoint import files_digest
        from songalign.transcribe.listen import load_transcriber

        if model is None:
            raise SongalignError("the crnn backend needs a trained transcriber folder; give --model FOLDER")
        self.folder = Path(model)
        self.transcriber = transcriber if transcriber is not None else load_transcriber(self.folder, needs="lyrics")
        self.digest = files_digest(sorted(self.folder.glob("*.safetensors")))
        self.writes_phonemes = self.transcriber.config.network.symbols == "phonemes"
        if self.writes_phonemes:
            self.languages = ("every language espeak-ng speaks",)

    def spelling(self, language: str | None) -> Spelling:
        from songalign.transcribe.phonemes import model_spelling

        return model_spelling(self.transcriber.config.network, language)

    def emissions(self, sound: Sound) -> tuple[np.ndarray, float]:
        heard = self.transcriber.emissions(sound.mix, sound.vocals, sound.rate)
        return heard.log_probs, heard.emission_seconds  # type: ignore[return-value]

    def describe(self) -> str:
        return f"crnn {self.folder}"
