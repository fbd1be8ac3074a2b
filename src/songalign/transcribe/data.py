"""What the transcriber reads: two-channel log-mel features of a song, and its framewise targets.

Features (the paper's): 80 mel bands at 16 kHz, a 32 ms window (512 samples) and a 16 ms hop
(256 samples), natural-log mel power (:data:`FEATURES`, through the one log-mel of
:mod:`songalign.audio.features`); frame ``t`` is centred at ``t · 0.016`` s. Two channels, the mix
and the vocals (the paper's order; the authors' code puts the vocals first: ``channel_order``).

The vocal channel (``vocals``: ``"stem"``, ``"mix"``, ``"spleeter"`` or another separator) is chosen in one place,
:mod:`songalign.transcribe.listen` (:func:`~songalign.transcribe.listen.song_audio` for corpus songs).

Targets per 16 ms frame, from the song's notes and words (times in seconds):

- ``pitch``: the MIDI number (rounded) of the note sounding at the frame's centre, or
  :data:`~songalign.transcribe.networks.NO_PITCH` (128);
- ``onset``: 1.0 at the frame nearest each note's start, else 0.0;
- ``words``: each word's first frame, end frame (exclusive) and its symbol indices: its normalised
  letters (:func:`~songalign.transcribe.symbols.encode`) for a character model, its phonemes
  (:data:`~songalign.transcribe.phonemes.PHONEME_SYMBOLS` indices, :func:`word_phonemes`) for a phoneme one.

A clip (:func:`cut_clips`) is a window of at most ``clip_frames`` frames; its CTC target is the words
lying wholly inside it, joined by spaces (characters) or run together (phonemes: sung words run into each
other, and espeak's phonemes carry no word separator). A word the window cuts is silenced in the clip's features
(every bin set to the log of the mel floor, what digital silence gives) and removed from its
pitch/onset targets, so the model never hears words its target leaves out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from songalign.audio.features import LogMelConfig, log_mel
from songalign.corpus.records import Note, Song, Word
from songalign.transcribe.networks import NO_PITCH, NetworkConfig
from songalign.transcribe.symbols import (
    EMISSION_SECONDS,
    FRAME_SECONDS,
    SAMPLE_RATE,
    SPACE_INDEX,
    encode,
    normalise_text,
)

FEATURES = LogMelConfig(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=256, n_mels=80)
"""The paper's input features: 80 mels, 32 ms window, 16 ms hop, at 16 kHz."""

assert FEATURES.hop_length / SAMPLE_RATE == FRAME_SECONDS

SILENCE = math.log(FEATURES.floor)
"""The log-mel value of digital silence (every bin at the floor)."""

VocalSource = str
"""``"stem"``, ``"mix"``, a registered separator ``NAME[:MODEL]`` (``spleeter``, ``open-unmix:FOLDER``) or the path
of an open-unmix vocals model (:mod:`songalign.transcribe.listen`)."""

__all__ = ["EMISSION_SECONDS", "FRAME_SECONDS", "SAMPLE_RATE"]  # re-exported from .symbols


def frame_of(seconds: float) -> int:
    """The 16 ms frame whose centre is nearest to ``seconds``."""
    return int(round(seconds / FRAME_SECONDS))


def features(mix: np.ndarray, vocals: np.ndarray | None, order: Literal["mix_first", "vocals_first"] = "mix_first"):
    """``(2, 80, T)`` float32 log-mel of the mix and the vocals (16 kHz mono arrays of equal length).

    ``vocals=None`` copies the mix. ``order`` is the paper's ``mix_first`` or the code's ``vocals_first``.
    """
    vocals = mix if vocals is None else vocals
    if len(vocals) != len(mix):  # a stem decoded a few samples short or long: pad or trim to the mix
        vocals = np.pad(vocals, (0, max(0, len(mix) - len(vocals))))[: len(mix)]
    pair = (mix, vocals) if order == "mix_first" else (vocals, mix)
    return log_mel(torch.from_numpy(np.stack(pair)), FEATURES)


@dataclass
class SongTargets:
    """A song's features and framewise targets.

    ``mel`` ``(C, 80, T)`` float32; ``pitch`` ``(T,)`` int64 (128 = no pitch); ``onset`` ``(T,)``
    float32; ``words`` ``(first frame, end frame, symbol indices)`` per word, in time order;
    ``text`` the whole song's lyrics as the model's symbols read them (normalised letters and spaces; for a
    phoneme model its phoneme symbols separated by spaces, so a WER of two such texts is the phoneme error
    rate); ``notes`` the annotated notes (seconds, MIDI); ``word_starts`` ``(W,)`` the seconds at which the
    words of ``words`` start; ``separator`` the symbol between two words of a CTC target (the space, or None
    for phonemes).
    """

    song_id: str
    mel: torch.Tensor
    pitch: np.ndarray
    onset: np.ndarray
    words: list[tuple[int, int, list[int]]]
    text: str
    notes: list[Note]
    word_starts: np.ndarray
    separator: int | None = SPACE_INDEX

    @property
    def frames(self) -> int:
        return int(self.mel.shape[-1])


def pitch_onset_targets(notes: Sequence[Note], n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pitch (T,) int64, onset (T,) float32)`` on the 16 ms grid from ``notes`` (see the module docstring)."""
    pitch = np.full(n_frames, NO_PITCH, np.int64)
    onset = np.zeros(n_frames, np.float32)
    centres = np.arange(n_frames) * FRAME_SECONDS
    for note in notes:
        if not (math.isfinite(note.start) and math.isfinite(note.end) and math.isfinite(note.pitch)):
            continue
        inside = (centres >= note.start) & (centres < note.end)
        pitch[inside] = int(np.clip(round(note.pitch), 0, 127))
        first = frame_of(note.start)
        if 0 <= first < n_frames:
            onset[first] = 1.0
    return pitch, onset


def word_phonemes(song: Song, network: NetworkConfig) -> list[list[str]]:
    """The phoneme symbols (:data:`~songalign.transcribe.phonemes.PHONEMES`) of each of ``song.words``, in that
    order, stress and length marks as ``network`` keeps them.

    A sung synthetic song's own phoneme annotation (``extra["phonemes"]``: what espeak-ng sang, each phoneme
    with the index of its word) where the song has one; else espeak-ng's reading of the lyrics, line by line,
    in the song's language (:func:`~songalign.transcribe.phonemes.song_language`), as alignment spells them."""
    from songalign.transcribe.phonemes import annotated_phonemes, phonemize, song_language

    marks = {"keep_stress": network.keep_stress, "keep_length": network.keep_length}
    symbols: list[list[str]] = [[] for _ in song.words]
    if song.extra.get("phonemes"):
        for phoneme in annotated_phonemes(song.extra["phonemes"], **marks):
            if 0 <= phoneme.word < len(symbols):
                symbols[phoneme.word].append(phoneme.symbol)
        return symbols
    lines: dict[int, list[int]] = {}
    for index, word in enumerate(song.words):  # words of one line are read together (liaison, context)
        lines.setdefault(word.line if word.line >= 0 else -1 - index, []).append(index)
    members = list(lines.values())
    read = phonemize([" ".join(song.words[i].text for i in line) for line in members], song_language(song), **marks)
    for line, spoken in zip(members, read, strict=True):
        written = [len(song.words[i].text.split()) for i in line]  # a word's text is one written word, or none
        position = 0
        for index, count in zip(line, written, strict=True):
            symbols[index] = [s for part in spoken[position : position + count] for s in part]
            position += count
    return symbols


def word_targets(
    words: Sequence[Word], tokens: Sequence[Sequence[int]] | None = None
) -> list[tuple[int, int, list[int]]]:
    """``(first frame, end frame, symbol indices)`` of each word with symbols, in time order; ``tokens`` are
    each word's symbol indices (default: its normalised letters, :func:`~songalign.transcribe.symbols.encode`)."""
    spelt = [encode(word.text) for word in words] if tokens is None else [list(t) for t in tokens]
    spans = []
    for word, symbols in sorted(zip(words, spelt, strict=True), key=lambda pair: pair[0].start):
        if symbols and math.isfinite(word.start) and math.isfinite(word.end):
            spans.append(
                (int(math.floor(word.start / FRAME_SECONDS)), int(math.ceil(word.end / FRAME_SECONDS)), symbols)
            )
    return spans


def song_targets(song: Song, mel: torch.Tensor, network: NetworkConfig | None = None) -> SongTargets:
    """The targets of ``song`` for its features ``mel`` ``(C, 80, T)``, in the symbols ``network`` writes
    (characters by default; phonemes from :func:`word_phonemes`)."""
    n_frames = int(mel.shape[-1])
    pitch, onset = pitch_onset_targets(song.notes, n_frames)
    if network is None or network.symbols == "characters":
        words = sorted((w for w in song.words if normalise_text(w.text)), key=lambda w: w.start)
        return SongTargets(
            song_id=song.id,
            mel=mel,
            pitch=pitch,
            onset=onset,
            words=word_targets(words),
            text=normalise_text(" ".join(w.text for w in words)),
            notes=list(song.notes),
            word_starts=np.array([w.start for w in words], float),
        )
    from songalign.transcribe.phonemes import phoneme_indices

    sung = sorted(
        ((word, symbols) for word, symbols in zip(song.words, word_phonemes(song, network), strict=True) if symbols),
        key=lambda pair: pair[0].start,
    )
    return SongTargets(
        song_id=song.id,
        mel=mel,
        pitch=pitch,
        onset=onset,
        words=word_targets([word for word, _ in sung], [phoneme_indices(symbols) for _, symbols in sung]),
        text=" ".join(symbol for _, symbols in sung for symbol in symbols),
        notes=list(song.notes),
        word_starts=np.array([word.start for word, _ in sung], float),
        separator=None,
    )


@dataclass
class Clip:
    """One training window: ``mel`` ``(C, 80, t)``, ``pitch`` ``(t,)``, ``onset`` ``(t,)``, ``tokens`` its CTC target."""

    mel: torch.Tensor
    pitch: np.ndarray
    onset: np.ndarray
    tokens: list[int]


def cut_clip(song: SongTargets, start: int, clip_frames: int) -> Clip:
    """The window ``[start, start + clip_frames)`` of ``song`` (shorter at the song's end); cut words silenced."""
    end = min(song.frames, start + clip_frames)
    mel = song.mel[..., start:end].clone()
    pitch, onset = song.pitch[start:end].copy(), song.onset[start:end].copy()
    tokens: list[int] = []
    for first, last, word in song.words:
        if last <= start or first >= end:
            continue
        if first >= start and last <= end:
            separator = [song.separator] if tokens and song.separator is not None else []
            tokens.extend(separator + word)
            continue
        lo, hi = max(first, start) - start, min(last, end) - start
        mel[..., lo:hi] = SILENCE
        pitch[lo:hi], onset[lo:hi] = NO_PITCH, 0.0
    return Clip(mel, pitch, onset, tokens)


def clip_windows(frames: int, clip_frames: int = 1000, offset: int = 0) -> list[tuple[int, int]]:
    """``(start, length)`` in frames of the consecutive windows of ``clip_frames`` covering a song of ``frames``
    frames from frame ``offset % clip_frames`` on (the frames before it form a first, shorter window; the last
    window is cut at the song's end); windows shorter than a second are left out."""
    offset = offset % clip_frames
    starts = ([0] if offset else []) + list(range(offset, frames, clip_frames))
    windows = []
    for index, start in enumerate(starts):
        length = (starts[index + 1] - start) if index + 1 < len(starts) else clip_frames
        length = min(frames, start + length) - start
        if length * FRAME_SECONDS >= 1.0:
            windows.append((start, length))
    return windows


def sung_share(song: SongTargets, start: int, length: int) -> float:
    """The share of the window ``[start, start + length)`` that is sung, in ``[0, 1]``: its frames inside the words
    that lie wholly in it (a word the window cuts is silenced, :func:`cut_clip`) or, for a song loaded without
    words (a pitch-only model's), inside its notes."""
    end = start + length
    if song.words:
        covered = sum(last - first for first, last, _ in song.words if first >= start and last <= end)
    else:
        covered = int((song.pitch[start:end] != NO_PITCH).sum())
    return covered / max(length, 1)


def cut_clips(song: SongTargets, clip_frames: int = 1000, offset: int = 0) -> list[Clip]:
    """The clips of ``song``'s :func:`clip_windows`."""
    return [cut_clip(song, start, length) for start, length in clip_windows(song.frames, clip_frames, offset)]


@dataclass
class Batch:
    """Padded clips: ``mel`` ``(B, C, 80, T)``, ``lengths`` ``(B,)`` frames, ``pitch`` ``(B, T)`` (padding = 128),
    ``onset`` ``(B, T)``, ``tokens`` ``(sum of target lengths,)`` concatenated and ``token_lengths`` ``(B,)``."""

    mel: torch.Tensor
    lengths: torch.Tensor
    pitch: torch.Tensor
    onset: torch.Tensor
    tokens: torch.Tensor
    token_lengths: torch.Tensor


def collate(clips: Sequence[Clip]) -> Batch:
    """Pad ``clips`` to the longest (features at the silence value) and stack them into a :class:`Batch`."""
    frames = max(c.mel.shape[-1] for c in clips)
    channels, bins = clips[0].mel.shape[:2]
    mel = torch.full((len(clips), channels, bins, frames), SILENCE)
    pitch = torch.full((len(clips), frames), NO_PITCH, dtype=torch.long)
    onset = torch.zeros(len(clips), frames)
    for index, clip in enumerate(clips):
        length = clip.mel.shape[-1]
        mel[index, ..., :length] = clip.mel
        pitch[index, :length] = torch.from_numpy(clip.pitch)
        onset[index, :length] = torch.from_numpy(clip.onset)
    return Batch(
        mel=mel,
        lengths=torch.tensor([c.mel.shape[-1] for c in clips]),
        pitch=pitch,
        onset=onset,
        tokens=torch.tensor([t for c in clips for t in c.tokens], dtype=torch.long),
        token_lengths=torch.tensor([len(c.tokens) for c in clips]),
    )
