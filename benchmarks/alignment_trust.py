"""Trust in timed lyrics: vocal activity and alignment confidence on a model's held-out synthetic test songs.

For each test song of the transcriber's card (heard through Spleeter's vocals, cached): the vocal activity
against the annotated word times (frames inside a word are sung) for several accompaniment margins, and the
line confidence of the right lyrics against another test song's lyrics, with the share of lines each
threshold keeps and marks unsure. The figures in the README's "Timed lyrics from plain lyrics" came from

    SONGALIGN_CACHE=CACHE python benchmarks/alignment_trust.py MODEL_FOLDER SYNTH_FOLDER
"""

import json
import sys
from pathlib import Path

import numpy as np

from songalign.corpus.lyrics_files import read_jamendo_words_csv, read_plain_lyrics
from songalign.transcribe.activity import accompaniment_of, vocal_activity
from songalign.transcribe.listen import VocalChannel, hear, load_transcriber
from songalign.transcribe.symbols import SAMPLE_RATE
from songalign.transcribe.trust import align_scored

MODEL, SYN = Path(sys.argv[1]), Path(sys.argv[2])
card = json.load(open(MODEL / "card.json"))
test = card["data"]["songs"]["test"]
tr = load_transcriber(MODEL, needs="lyrics")
channel = VocalChannel("spleeter")
heard, lyrics, truth = {}, {}, {}
for name in test:
    heard[name] = hear(tr, SYN / "mp3" / f"{name}.mp3", channel)
    lyrics[name] = read_plain_lyrics(SYN / "lyrics" / f"{name}.txt").lines
    words = read_jamendo_words_csv(SYN / "annotations" / "words" / f"{name}.csv")
    truth[name] = [(w.start, w.end) for w in words]
print("songs", len(test))
# vocal activity against the known word times
for margin in (None, 5, 10, 15, 20, 25, 30):
    tp = fp = fn = tn = 0
    for name in test:
        h = heard[name]
        T = len(h.emissions.log_probs)
        es = h.emissions.emission_seconds
        acc = None if margin is None else accompaniment_of(h.mix, h.vocal_audio)
        act = vocal_activity(h.vocal_audio, SAMPLE_RATE, T, acc, margin_db=margin or 0.0)
        sung = np.zeros(T, bool)
        for a, b in truth[name]:
            sung[int(a / es) : int(np.ceil(b / es))] = True
        tp += (act & sung).sum()
        fp += (act & ~sung).sum()
        fn += (~act & sung).sum()
        tn += (~act & ~sung).sum()
    print(
        f"margin {margin}: recall {tp / (tp + fn):.3f} precision {tp / (tp + fp):.3f} instrumental kept out {tn / (tn + fp):.3f}"
    )
# confidence: right vs wrong lyrics
right, wrong, right_w, starts_err = [], [], [], []
for k, name in enumerate(test):
    h = heard[name]
    other = test[(k + 1) % len(test)]
    for lines, bucket in ((lyrics[name], right), (lyrics[other], wrong)):
        s = align_scored(
            h.emissions.log_probs,
            lines,
            emission_seconds=h.emissions.emission_seconds,
            duration=h.duration,
            active=h.activity(),
        )
        bucket += [ln.confidence for ln in s.lines if ln.confidence is not None]
        if bucket is right:
            ws = [w for ln in s.lines for w in ln.words]
            starts_err += [abs(w.start - t[0]) for w, t in zip(ws, truth[name], strict=True)]
            right_w += [w.confidence for w in ws]
right, wrong = np.array(right), np.array(wrong)


def q(a):
    return " ".join(f"{v:.2f}" for v in np.quantile(a, [0, 0.05, 0.25, 0.5, 0.75, 1]))


print("line confidence, right lyrics (min q05 q25 med q75 max):", q(right), "n", len(right))
print("line confidence, wrong lyrics:", q(wrong), "n", len(wrong))
print("word confidence right:", q(np.array(right_w)))
print(f"word start abs error: median {np.median(starts_err):.3f} s, mean {np.mean(starts_err):.3f} s")
for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
    print(
        f"threshold {th}: right lines kept {np.mean(right >= th):.3f}, wrong lines marked unsure {np.mean(wrong < th):.3f}"
    )
