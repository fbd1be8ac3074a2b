"""Vocal activity on singing: songalign's energy rule against silero-vad's speech probability.

Every song of the given prepared corpora (timed words: the annotated word times are the truth) is heard as
``transcribe align`` hears it (:func:`songalign.transcribe.listen.song_sound`: the mix and the separated
vocals, 16 kHz, from songalign's separation cache). Per 20 ms frame (frame ``t`` covers ``[0.02·t,
0.02·(t+1))`` s):

- a frame is *sung* when it overlaps an annotated word; *recall* is the share of sung frames marked active;
- a frame is *between lines* when it overlaps no line (a line spans its first word's start to its last
  word's end) and lies between the first line and the last; *kept out* is the share of them marked inactive.
  Frames before the first line and after the last (intro, outro) are counted apart. Frames between two
  words of one line count in neither.

Detectors:

- ``energy``: :meth:`Sound.activity` at 20 ms with its defaults (vocals above −50 dBFS and no more than
  10 dB under ``mix − vocals``, median over 0.16 s, widened 0.16 s either side);
- ``silero``: silero-vad's speech probability on the separated vocals (onnxruntime, 512-sample chunks of
  32 ms with the 64 samples before each as context and the recurrent state carried from chunk to chunk, as
  the silero-vad wheel's ``OnnxWrapper`` runs it); a 20 ms frame takes the chunk holding its midpoint.
  Thresholded at 0.5 (silero's default) and at the threshold with the best balanced accuracy (mean of recall
  and kept out) on that corpus (chosen on the very frames it is scored on: an optimistic figure), each raw
  and with energy's smoothing (:func:`songalign.transcribe.activity.smoothed`).

The table in ``docs/benchmarks.md`` ("Vocal activity on singing") came from

    python benchmarks/vocal_activity.py runs/transcribe/corpus:test data/sung-english data/sung-german \\
        --silero silero_vad/data/silero_vad.onnx

(``silero_vad.onnx`` from the ``silero-vad`` wheel: ``pip download silero-vad --no-deps``, unzip).
"""

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Song
from songalign.transcribe.activity import smoothed
from songalign.transcribe.listen import song_sound
from songalign.transcribe.symbols import SAMPLE_RATE
from songalign.transcribe.train import split_songs

FRAME = 0.02
"""The frame the truth and every detector are compared in, seconds."""

CHUNK = 512
"""silero-vad's chunk at 16 kHz, samples (32 ms)."""

CONTEXT = 64
"""The samples before each chunk silero-vad hears with it at 16 kHz."""

SPLITS = ("train", "val", "test", "all")

THRESHOLDS = (0.005, 0.01, 0.02, 0.03, 0.05, *np.round(np.arange(0.1, 0.96, 0.05), 2))
"""The thresholds on silero's probability searched for the best balanced accuracy."""


def truth_frames(song: Song, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean ``(frames,)`` masks of ``song``: sung (overlapping a word), between lines, before/after the lyrics."""

    def span(start: float, end: float) -> slice:
        return slice(int(start / FRAME), int(np.ceil(end / FRAME)))

    sung = np.zeros(frames, bool)
    in_line = np.zeros(frames, bool)
    lines: dict[int, list[float]] = {}
    for k, word in enumerate(w for w in song.words if w.end > w.start):
        sung[span(word.start, word.end)] = True
        key = word.line if word.line >= 0 else -1 - k  # a word of no known line is a line of its own
        first, last = lines.get(key, [word.start, word.end])
        lines[key] = [min(first, word.start), max(last, word.end)]
    for start, end in lines.values():
        in_line[span(start, end)] = True
    covered = np.flatnonzero(in_line)
    inside = np.zeros(frames, bool)
    if covered.size:
        inside[covered[0] : covered[-1] + 1] = True
    return sung, inside & ~in_line, ~inside


def silero_probabilities(session, samples: np.ndarray) -> np.ndarray:
    """silero-vad's speech probability of each 512-sample chunk of ``samples`` (16 kHz mono ``(N,)``), shape
    ``(ceil(N / 512),)``; the last chunk is padded with zeros."""
    chunks = -(-len(samples) // CHUNK)
    padded = np.zeros(CONTEXT + chunks * CHUNK, np.float32)
    padded[CONTEXT : CONTEXT + len(samples)] = samples
    state = np.zeros((2, 1, 128), np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    out = np.empty(chunks, np.float32)
    for i in range(chunks):
        window = padded[i * CHUNK : (i + 1) * CHUNK + CONTEXT][None, :]
        probability, state = session.run(None, {"input": window, "state": state, "sr": rate})
        out[i] = probability.reshape(-1)[0]
    return out


@dataclass
class Tally:
    """Frame counts of one detector over a corpus."""

    sung: int = 0
    found: int = 0
    between: int = 0
    between_out: int = 0
    outside: int = 0
    outside_out: int = 0

    def add(self, active: np.ndarray, sung: np.ndarray, between: np.ndarray, outside: np.ndarray) -> None:
        self.sung += int(sung.sum())
        self.found += int((active & sung).sum())
        self.between += int(between.sum())
        self.between_out += int((~active & between).sum())
        self.outside += int(outside.sum())
        self.outside_out += int((~active & outside).sum())

    @property
    def recall(self) -> float:
        return self.found / max(1, self.sung)

    @property
    def kept_out(self) -> float:
        return self.between_out / max(1, self.between)

    @property
    def balanced(self) -> float:
        return (self.recall + self.kept_out) / 2


@dataclass
class Heard:
    """One corpus's songs as frames: truth masks, energy activity and silero probabilities per 20 ms frame."""

    songs: int = 0
    seconds: float = 0.0
    truths: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)
    silero: list[np.ndarray] = field(default_factory=list)
    silero_seconds: float = 0.0

    def tally(self, threshold: float | None = None, smooth: bool = False) -> Tally:
        """Counts of the energy activity (``threshold`` None) or of silero's probability at ``threshold``,
        ``smooth`` with :func:`smoothed`."""
        tally = Tally()
        for k, truth in enumerate(self.truths):
            if threshold is None:
                marks = self.energy[k]
            else:
                marks = self.silero[k] >= threshold
                marks = smoothed(marks, FRAME) if smooth else marks
            tally.add(marks, *truth)
        return tally


def ratio(errors: int, against: int) -> str:
    """``errors / against`` as ``×R``; ``none against none`` or ``… against none`` when ``against`` is 0."""
    if against:
        return f"×{errors / against:.2f}"
    return "none against none" if errors == 0 else f"{errors} against none"


def corpus_and_split(text: str) -> tuple[str, str]:
    """``PATH[:SPLIT]`` as ``(PATH, SPLIT)``; the split is ``all`` when not given."""
    path, _, split = text.rpartition(":")
    return (path, split) if path and split in SPLITS else (text, "all")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("corpora", nargs="+", help="prepared corpora with timed words, each PATH[:SPLIT] (default all)")
parser.add_argument("--vocals", default="spleeter", help="the vocal channel (default: spleeter, cached)")
parser.add_argument("--silero", default=None, help="silero-vad's ONNX model (silero_vad.onnx); without it, energy only")
args = parser.parse_args()

session = None
if args.silero:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(args.silero, options, providers=["CPUExecutionProvider"])

rows = []
ratios = []
for text in args.corpora:
    path, split = corpus_and_split(text)
    songs = [song for song in split_songs(CorpusManifest.load(path), split) if song.words]
    heard = Heard(songs=len(songs))
    for song in songs:
        sound = song_sound(song, args.vocals)
        frames = int(np.ceil(sound.duration / FRAME))
        heard.seconds += sound.duration
        heard.truths.append(truth_frames(song, frames))
        heard.energy.append(sound.activity(frames, FRAME))
        if session is not None:
            began = time.perf_counter()
            chunks = silero_probabilities(session, sound.voice)
            heard.silero_seconds += time.perf_counter() - began
            middle = np.minimum(((np.arange(frames) + 0.5) * FRAME * SAMPLE_RATE // CHUNK).astype(int), len(chunks) - 1)
            heard.silero.append(chunks[middle])
    name = f"{path}:{split}"
    energy = heard.tally()
    tallies = [("energy (defaults)", energy)]
    if session is not None:
        best_raw = max(THRESHOLDS, key=lambda t: heard.tally(t).balanced)
        best_smooth = max(THRESHOLDS, key=lambda t: heard.tally(t, smooth=True).balanced)
        at_half = heard.tally(0.5)
        tallies += [
            ("silero p≥0.5", at_half),
            ("silero p≥0.5, smoothed", heard.tally(0.5, smooth=True)),
            (f"silero p≥{best_raw:g} (best)", heard.tally(best_raw)),
            (f"silero p≥{best_smooth:g} (best), smoothed", heard.tally(best_smooth, smooth=True)),
        ]
        missed = ratio(at_half.sung - at_half.found, energy.sung - energy.found)
        through = ratio(at_half.between - at_half.between_out, energy.between - energy.between_out)
        ratios.append(
            f"{name}: silero p≥0.5 against energy: sung frames missed {at_half.sung - at_half.found} against "
            f"{energy.sung - energy.found} of {energy.sung} ({missed}), between-line frames let through "
            f"{at_half.between - at_half.between_out} against {energy.between - energy.between_out} of "
            f"{energy.between} ({through}); "
            f"silero ran {heard.seconds / max(1e-9, heard.silero_seconds):.0f}× real time on one thread"
        )
    for label, tally in tallies:
        rows.append(
            f"| {name} ({heard.songs} songs, {heard.seconds / 60:.1f} min) | {label} | {tally.recall:.3f} | "
            f"{tally.kept_out:.3f} ({tally.between} frames) | {tally.outside_out / max(1, tally.outside):.3f} | "
            f"{tally.balanced:.3f} |"
        )

print(f"vocals: {args.vocals}; 20 ms frames")
print("| corpus | detector | recall of sung frames | between lines kept out | intro/outro kept out | balanced |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print("\n".join(ratios))
