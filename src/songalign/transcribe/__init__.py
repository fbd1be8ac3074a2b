"""Lyrics transcription, lyrics-to-audio alignment and lyric selection (seed 001, first paper).

A CRNN-CTC model of sung characters that estimates pitch and onsets jointly and transcribes
conditioned on them (:mod:`.networks`, :mod:`.model`), trained from a recipe (:mod:`.train`),
decoded greedily or by beam search with a word n-gram LM built from the training lyrics
(:mod:`.lm`, :mod:`.decode`), and put to three uses: transcription, CTC forced alignment of known
lyrics (:mod:`.align`: timed words and lines from plain text) and ranking candidate lyrics for a
piece of audio (:mod:`.rank`). :mod:`.metrics` holds WER/CER, COn/COnP and AAE/PCO;
:mod:`.cleanse` the seed's DALI pitch cleansing; :mod:`.phonemes` the IPA inventory every language shares and
lyrics → phonemes through espeak-ng, for models that write phonemes; :mod:`.study` the quickstart and its report.

:data:`NETWORKS` is the registry of the networks by name (``model.network.pitch_network`` and
``model.network.lyrics_network`` in a recipe); other packages add theirs through the
``songalign.transcribe_networks`` entry points. :data:`BACKENDS` is the registry of acoustic backends
(:mod:`.backends`: ``crnn``, ``whisper``, ``wav2vec2``) behind ``--backend``. The names below are imported on first use.
"""

from __future__ import annotations

from songalign.lazy import lazy_exports
from songalign.registry import Registry

NETWORKS: Registry = Registry("transcribe_networks", what="transcription network")
"""Factories ``(config: NetworkConfig) -> nn.Module`` by name: a pitch/onset network returns
``(pitch logits (B, T, 129), onset logits (B, T))``; a lyrics network maps ``(mel, pitch, onset)``
to CTC logits ``(B, ceil(T/2), V)``."""

NETWORKS.register("pitch_onset_crnn", "songalign.transcribe.networks:PitchOnsetCRNN")
NETWORKS.register("lyrics_crnn", "songalign.transcribe.networks:LyricsCRNN")

BACKENDS: Registry = Registry("transcribe_backends", what="acoustic backend")
"""Acoustic backends by name (``--backend``): factories ``(model=None, **options) ->``
:class:`~songalign.transcribe.backends.Backend` that transcribe, align known lyrics and score candidates;
other packages add theirs through the ``songalign.transcribe_backends`` entry points."""

BACKENDS.register("crnn", "songalign.transcribe.backends:CrnnBackend")
BACKENDS.register("whisper", "songalign.transcribe.whisper:WhisperBackend")
BACKENDS.register("wav2vec2", "songalign.transcribe.wav2vec2:Wav2Vec2Backend")

_EXPORTS: dict[str, str] = {
    "SYMBOLS": "symbols",
    "PHONEME_SYMBOLS": "phonemes",
    "phonemize": "phonemes",
    "PhonemeSpelling": "phonemes",
    "normalise_text": "symbols",
    "NetworkConfig": "networks",
    "PitchOnsetCRNN": "networks",
    "LyricsCRNN": "networks",
    "Transcriber": "model",
    "TranscriberConfig": "model",
    "Emissions": "model",
    "greedy_decode": "decode",
    "BeamSearchDecoder": "decode",
    "pick_onsets": "decode",
    "notes_from_onsets": "decode",
    "notes_from_pitch_changes": "decode",
    "notes_from_emissions": "decode",
    "build_arpa": "lm",
    "align_lyrics": "align",
    "AlignedLyrics": "align",
    "forced_align": "align",
    "word_error_rate": "metrics",
    "character_error_rate": "metrics",
    "note_scores": "metrics",
    "alignment_scores": "metrics",
    "rank_candidates": "rank",
    "read_candidates": "rank",
    "lyric_selection": "rank",
    "backend_log_likelihoods": "rank",
    "Backend": "backends",
    "Sound": "backends",
    "TimedWord": "backends",
    "TranscribeRecipe": "train",
    "load_recipe": "train",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted([*_EXPORTS, "NETWORKS", "BACKENDS"])
