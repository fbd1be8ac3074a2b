"""Trust in timed lyrics: vocal activity and alignment confidence of any backend on held-out test songs.

For each song of a prepared corpus's split (a ``crnn`` model's training songs left out), heard through its
vocal channel (Spleeter's vocals by default, cached):

- vocal activity (:func:`songalign.transcribe.activity.vocal_activity`, 32 ms frames) against the annotated
  word times (frames inside a word are sung), for several accompaniment margins;
- the line confidence of the song's own lyrics against another test song's lyrics (the next song's, which
  the audio does not hold), both aligned as ``transcribe align`` aligns them (:meth:`Backend.align`, vocal
  activity on), with the share of right lines each threshold keeps and of wrong lines it marks unsure;
- the chance level of the confidence (a model that knows nothing) and the threshold that separates right
  from wrong lines best: the midpoint of the widest gap between the two when they separate, else the
  threshold with the best balanced accuracy.

The thresholds in ``docs/benchmarks.md`` ("Alignment confidence") came from

    python benchmarks/alignment_trust.py crnn MODEL_FOLDER CORPUS [--vocals spleeter]
    python benchmarks/alignment_trust.py whisper tiny.en CORPUS
"""

import argparse

import numpy as np

from songalign.corpus.manifest import CorpusManifest
from songalign.transcribe import BACKENDS
from songalign.transcribe.activity import accompaniment_of, vocal_activity
from songalign.transcribe.backends import CrnnBackend
from songalign.transcribe.evaluate import held_out_songs, song_truth
from songalign.transcribe.listen import song_sound
from songalign.transcribe.symbols import EMISSION_SECONDS
from songalign.transcribe.train import split_songs

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("backend", help="crnn, whisper or wav2vec2")
parser.add_argument("model", help="the backend's model (a folder; tiny.en for whisper)")
parser.add_argument("corpus", help="a prepared corpus with timed words (the quickstart's corpus/)")
parser.add_argument("--split", default="test")
parser.add_argument(
    "--vocals", default=None, help="the vocal channel (default: spleeter for the activity, and the backend's own)"
)
args = parser.parse_args()

backend = BACKENDS.build(args.backend, model=args.model)
manifest = CorpusManifest.load(args.corpus)
songs = held_out_songs(backend, split_songs(manifest, args.split))
truths = [song_truth(song) for song in songs]
songs = [song for song, truth in zip(songs, truths, strict=True) if truth is not None]
truths = [truth for truth in truths if truth is not None]
channel = args.vocals or (
    backend.transcriber.config.vocals if isinstance(backend, CrnnBackend) else backend.default_vocals
)
sounds = [song_sound(song, channel) for song in songs]
print(f"backend {backend.describe()}, vocals {channel}, {len(songs)} songs of split {args.split}")

# vocal activity against the annotated word times
for margin in (None, 5, 10, 15, 20, 25, 30):
    tp = fp = fn = tn = 0
    for song, sound in zip(songs, sounds, strict=True):
        frames = int(np.ceil(sound.duration / EMISSION_SECONDS))
        backing = None if margin is None or sound.vocals is None else accompaniment_of(sound.mix, sound.vocals)
        active = vocal_activity(sound.voice, sound.rate, frames, backing, margin_db=margin or 0.0)
        sung = np.zeros(frames, bool)
        for word in song.words:
            sung[int(word.start / EMISSION_SECONDS) : int(np.ceil(word.end / EMISSION_SECONDS))] = True
        tp += (active & sung).sum()
        fp += (active & ~sung).sum()
        fn += (~active & sung).sum()
        tn += (~active & ~sung).sum()
    print(
        f"margin {margin}: recall {tp / (tp + fn):.3f} precision {tp / (tp + fp):.3f} "
        f"instrumental kept out {tn / (tn + fp):.3f}"
    )

# confidence: the right lyrics against another song's. With threshold 0 a line is unsure only for another
# reason (not placed, words without a time, stretched over a run without singing): unsure at every threshold
right, wrong, right_words, start_errors = [], [], [], []
right_flagged, wrong_flagged = [], []
for k, (truth, sound) in enumerate(zip(truths, sounds, strict=True)):
    other = truths[(k + 1) % len(truths)]
    scored = backend.align(sound, truth.lines, min_confidence=0.0)
    right += [np.nan if line.confidence is None else line.confidence for line in scored.lines]
    right_flagged += [line.unsure for line in scored.lines]
    words = [word for line in scored.lines for word in line.words]
    right_words += [w.confidence for w in words if w.confidence is not None]
    start_errors += [abs(w.start - t) for w, t in zip(words, truth.starts, strict=True) if w.start is not None]
    scored = backend.align(sound, other.lines, min_confidence=0.0)
    wrong += [np.nan if line.confidence is None else line.confidence for line in scored.lines]
    wrong_flagged += [line.unsure for line in scored.lines]
right_sure = np.array(right) * np.where(right_flagged, np.nan, 1.0)  # NaN: unsure whatever the threshold
wrong_sure = np.array(wrong) * np.where(wrong_flagged, np.nan, 1.0)
right, wrong = np.array(right)[~np.isnan(right)], np.array(wrong)[~np.isnan(wrong)]


def quantiles(values):
    return " ".join(f"{v:.3f}" for v in np.quantile(values, [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1]))


def kept(threshold):
    """Right lines sure at ``threshold`` and wrong lines marked unsure at it, shares of all lines."""
    return np.mean(right_sure >= threshold), 1 - np.mean(wrong_sure >= threshold)


print("line confidence (min q05 q25 median q75 q95 max)")
print(f"  right lyrics: {quantiles(right)}  ({len(right)} of {len(right_sure)} lines with a confidence; "
      f"{sum(right_flagged)} unsure for another reason)")  # fmt: skip
print(f"  wrong lyrics: {quantiles(wrong)}  ({len(wrong)} of {len(wrong_sure)} lines with a confidence; "
      f"{sum(wrong_flagged)} unsure for another reason)")  # fmt: skip
print(f"  word confidence, right lyrics: {quantiles(np.array(right_words))}")
print(
    f"word start abs error (right lyrics): median {np.median(start_errors):.3f} s, mean {np.mean(start_errors):.3f} s"
)
for threshold in (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7):
    right_kept, wrong_marked = kept(threshold)
    print(f"threshold {threshold}: right lines kept {right_kept:.3f}, wrong lines marked unsure {wrong_marked:.3f}")
if wrong.max() < right.min():
    print(
        f"separated: every wrong line under {wrong.max():.3f}, every right one at least {right.min():.3f}; "
        f"midpoint {(wrong.max() + right.min()) / 2:.3f}"
    )
else:
    grid = np.unique(np.concatenate([right, wrong]))
    balanced = [sum(kept(t)) / 2 for t in grid]
    best = int(np.argmax(balanced))
    print(f"not separated: the best threshold {grid[best]:.3f} has balanced accuracy {balanced[best]:.3f}")
