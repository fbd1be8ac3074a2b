"""How tightly real song embeddings cluster: the spreads the song-shaped benchmark data reproduces.

For a model and a set of songs grouped by style, it embeds every ``clip_seconds`` window of each
song (every ``--hop`` seconds), and prints, as mean cosines (with their spread over the groups):

- **segment → song**: each window to its song's mean direction (how tight a song's segments are);
- **song → style**: each song's mean direction to its style's mean direction;
- **style → all**: each style's mean direction to the mean direction of everything (how much all
  embeddings share one direction — learned spaces are far from isotropic);
- **segment ↔ segment**, same song / other song same style / other style: mean pairwise cosines;
- **text → nearest song**: each mood phrase's text embedding to the nearest song direction, and to
  the mean direction of everything (where text queries land).

Usage::

    python benchmarks/song_spreads.py --model runs/emo_musicnn/model --corpus data/corpus     # style = genre
    python benchmarks/song_spreads.py --model runs/bridge/model --folder /usr/share/games/fretsonfire/data/songs

``--corpus`` reads a prepared corpus's ``songs.parquet`` (style: its ``genre``); ``--folder`` takes every
``*.ogg``/``*.mp3``/``*.wav`` below it, a song per folder of audio files (its stems summed), the style
being ``--style`` or else the song folder's parent folder. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

MOOD_PHRASES = [
    "a sad slow song about loss",
    "happy upbeat dance music",
    "angry loud guitars",
    "calm peaceful acoustic music",
    "romantic love song",
    "dark tense electronic music",
    "energetic rock with drums",
    "gentle piano ballad",
]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def song_windows(paths: list[Path], model, hop: float) -> np.ndarray:
    """Embeddings ``(W, D)`` of the ``clip_seconds`` windows of one song, every ``hop`` seconds; a song
    given as several files (stems) is their sum, cut to the shortest."""
    from songalign.audio.io import load_audio

    rate = model.audio_tower.sample_rate
    stems = []
    for path in paths:
        audio, _ = load_audio(path, rate)
        stems.append(audio.mean(axis=1) if audio.ndim == 2 else audio)
    length = min(len(a) for a in stems)
    audio = np.sum([a[:length] for a in stems], axis=0)
    size, step = int(model.config.clip_seconds * rate), int(hop * rate)
    starts = range(0, max(1, len(audio) - size + 1), step)
    return model.embed_clips([audio[s : s + size] for s in starts])


def songs_of(args: argparse.Namespace) -> list[tuple[str, str, list[Path]]]:
    """``(song, style, audio files)`` of each song."""
    if args.corpus:
        import pyarrow.parquet as pq

        songs = pq.read_table(Path(args.corpus) / "songs.parquet", columns=["id", "genre", "audio_path"]).to_pylist()
        return [(s["id"], s["genre"] or "?", [Path(s["audio_path"])]) for s in songs]
    folders: dict[Path, list[Path]] = defaultdict(list)
    for path in sorted(Path(args.folder).rglob("*")):
        if path.suffix.lower() in (".ogg", ".mp3", ".wav", ".flac") and "preview" not in path.name:
            folders[path.parent].append(path)
    return [(str(folder.name), args.style or folder.parent.name, files) for folder, files in folders.items()]


def mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f} (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a songalign model folder")
    parser.add_argument("--corpus", type=Path, help="a prepared corpus (styles: its genres)")
    parser.add_argument("--folder", type=Path, help="a folder of songs (a song per folder of audio files)")
    parser.add_argument("--style", default=None, help="with --folder: the style of its songs (default: a song's parent folder)")
    parser.add_argument("--hop", type=float, default=5.0, help="seconds between window starts")
    args = parser.parse_args()
    from songalign.align.model import AlignModel

    model = AlignModel.from_pretrained(args.model)
    vectors, songs, styles = [], [], []
    for song, style, files in songs_of(args):
        w = song_windows(files, model, args.hop)
        vectors.append(w)
        songs += [song] * len(w)
        styles += [style] * len(w)
    x = unit(np.concatenate(vectors).astype(np.float64))
    songs_a, styles_a = np.asarray(songs), np.asarray(styles)
    everything = unit(x.mean(0))
    song_dir = {s: unit(x[songs_a == s].mean(0)) for s in dict.fromkeys(songs)}
    style_dir = {s: unit(x[styles_a == s].mean(0)) for s in dict.fromkeys(styles)}
    song_style = {s: styles_a[songs_a == s][0] for s in song_dir}
    print(f"{args.model}: {len(x)} windows of {model.config.clip_seconds:g} s every {args.hop:g} s, "
          f"{len(song_dir)} songs, {len(style_dir)} styles, {x.shape[1]} dimensions")  # fmt: skip
    print("segment -> song:", mean_sd([float(v @ song_dir[s]) for v, s in zip(x, songs, strict=True)]))
    print("song -> style:", mean_sd([float(song_dir[s] @ style_dir[song_style[s]]) for s in song_dir]))
    print("style -> all:", mean_sd([float(d @ everything) for d in style_dir.values()]))
    print("song -> all:", mean_sd([float(d @ everything) for d in song_dir.values()]))
    cos = x @ x.T
    same_song = songs_a[:, None] == songs_a[None, :]
    same_style = styles_a[:, None] == styles_a[None, :]
    off = ~np.eye(len(x), dtype=bool)
    for name, mask in (
        ("segment <-> segment, same song", same_song & off),
        ("segment <-> segment, other song, same style", same_style & ~same_song),
        ("segment <-> segment, other style", ~same_style),
    ):
        if mask.any():
            print(f"{name}: {cos[mask].mean():.3f} ± {cos[mask].std():.3f}")
    text = unit(model.embed_text(MOOD_PHRASES).astype(np.float64))
    directions = np.stack(list(song_dir.values()))
    print("text -> nearest song:", mean_sd([float(v) for v in (text @ directions.T).max(1)]))
    print("text -> nearest segment:", mean_sd([float(v) for v in (text @ x.T).max(1)]))
    print("text -> all:", mean_sd([float(v) for v in text @ everything]))


if __name__ == "__main__":
    main()
