"""Tiny captioning fixtures for tests and examples, built offline in about a second (no download).

- :func:`write_tiny_bart` writes a randomly initialised ``BartForConditionalGeneration`` (d_model 32,
  2+2 layers) and a byte-level BPE tokenizer trained on a few sentences, in the Hugging Face layout
  that ``from_pretrained(folder)`` reads — the same loading path as ``facebook/bart-base``.
- :func:`write_tiny_release` writes a few songs (tones of different pitch, 3 s) and a Song
  Interpretation–style release of their lyrics and interpretations (JSON);
  :func:`write_tiny_caption_corpus` prepares it with the ``interpretation`` reader, split by song
  like every corpus.
- :func:`tiny_recipe` is a captioner recipe over such a corpus with a small ``cnn`` music tower.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from songalign.align.model import TowerSpec
from songalign.caption.model import CaptionModelConfig
from songalign.caption.music import MusicEncoderConfig
from songalign.caption.train import CaptionData, CaptionRecipe, CaptionTrainSettings
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SegmenterConfig
from songalign.corpus.testing import write_audio

TINY_TOWER = TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32})
"""A 2-block CNN music tower: 16-dimensional frames every 40 ms."""

_MOODS = ("joy", "sadness", "anger", "calm", "love", "fear")
SENTENCES = [
    "I think this song is about joy and dancing in the sun.",
    "The lyrics deal with sadness and rain, a slow piano in A minor.",
    "It is about anger: fast drums at 140 BPM in E minor.",
    "A calm song about a quiet lake, soft guitar and a gentle voice.",
    "This one is about love, sung over strings in C major.",
    "Fear and dread in the dark, with a tense synth pulse.",
]


def write_tiny_bart(folder: str | Path, texts: list[str] | None = None, seed: int = 0) -> Path:
    """Write a tiny random BART (d_model 32, 2+2 layers, 4 heads, 256 positions) and its tokenizer to ``folder``."""
    import torch
    from transformers import BartForConditionalGeneration

    from songalign.caption.model import BartSize, bart_config
    from songalign.caption.tokenizer import train_tokenizer

    folder = Path(folder)
    tokenizer = train_tokenizer(texts or SENTENCES * 3, vocab_size=400, min_frequency=1)
    size = BartSize(
        d_model=32, encoder_layers=2, decoder_layers=2, attention_heads=4, ffn_dim=64, max_positions=256, init_std=0.02
    )
    config = bart_config(size, len(tokenizer))
    torch.manual_seed(seed)
    BartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tiny_release(root: str | Path, n_songs: int = 6, per_song: int = 2, seconds: float = 3.0) -> Path:
    """Songs ``song0…`` (tones, ``seconds`` long, in ``root/audio``) and ``root/release.json`` naming them.

    The release has one record per interpretation (``music4all_id``, ``lyrics``, ``comment``,
    ``votes``), ``per_song`` per song; votes alternate between 3 and −1 so the vote variants
    differ. Returns the release file.
    """
    root = Path(root)
    records = []
    for index in range(n_songs):
        mood = _MOODS[index % len(_MOODS)]
        write_audio(root / "audio" / f"song{index}.wav", seconds, frequency=180.0 + 70.0 * index)
        lyrics = f"I sing of {mood} tonight\nall this {mood} in my heart\n{mood} again and again"
        sentence = SENTENCES[index % len(SENTENCES)]
        for k in range(per_song):
            comment = f"{sentence} Take {k + 1}." if k else sentence
            records.append({"music4all_id": f"song{index}", "title": f"Song {index}", "lyrics": lyrics,
                            "comment": comment, "votes": 3 if k % 2 == 0 else -1})  # fmt: skip
    release = root / "release.json"
    release.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return release


def write_tiny_caption_corpus(root: str | Path, n_songs: int = 6, per_song: int = 2, seconds: float = 3.0) -> Path:
    """:func:`write_tiny_release`, prepared into ``root/corpus`` by the ``interpretation`` reader; returns the corpus.

    The split is the default song-level one (80/10/10, seed 0): 6 songs give 4 train, 1 val
    and 1 test song.
    """
    root = Path(root)
    release = write_tiny_release(root, n_songs, per_song, seconds)
    corpus = root / "corpus"
    short = SegmenterConfig(min_duration=min(1.0, seconds / 2))  # the songs may be shorter than the default --min
    prepare_corpus("interpretation", release, corpus, audio_dir=root / "audio", audio_extension=".wav",
                   segmenter=short, progress=False)  # fmt: skip
    return corpus


def tiny_recipe(corpus: str | Path, out: str | Path, bart: str | Path | None = None, **model: Any) -> CaptionRecipe:
    """A fast recipe over a prepared corpus (:func:`write_tiny_caption_corpus`): ALCAP-style by default, 2-s
    excerpts, a few steps.

    ``bart`` names a BART folder (e.g. from :func:`write_tiny_bart`); else a 32-wide BART is built.
    Keyword arguments update the model config (``fusion=…``, ``alignment=…``).
    """
    config = {
        "bart": str(bart) if bart else None,
        "size": {
            "d_model": 32,
            "encoder_layers": 2,
            "decoder_layers": 2,
            "attention_heads": 4,
            "ffn_dim": 64,
            "max_positions": 256,
            "vocab_size": 400,
            "min_frequency": 1,
        },  # fmt: skip
        "music_encoder": MusicEncoderConfig(tower=TINY_TOWER, excerpt_seconds=2.0).model_dump(),
        "alignment": {"loss": "audio_to_text_infonce", "logit_scale": {"init_temperature": 0.3, "learnable": False}},
    } | model
    return CaptionRecipe(
        name="tiny",
        out=Path(out),
        data=CaptionData(corpus=Path(corpus)),
        model=CaptionModelConfig.model_validate(config),
        train=CaptionTrainSettings(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=1, seed=3),
        generation={"num_beams": 2, "max_length": 24},
    )
