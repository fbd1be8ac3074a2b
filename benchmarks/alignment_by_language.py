"""Word alignment of transcribers per corpus and language: AAE, PCO@0.3 s and the even-spread baseline.

Each JamendoLyrics-layout corpus given is prepared once per language it holds (``corpus prepare jamendo
--language L``, every song scored: ``split all``), and every model is evaluated on each part with
``evaluate_transcriber`` (a phoneme model spells each song's lyrics in its language; songs a model trained on
are left out). Prints a Markdown table and writes ``results.json`` in ``--out``.

    python benchmarks/alignment_by_language.py --out runs/carryover \\
        --model characters=runs/tq/runs/multitask/model --model phonemes=runs/phonemes/model \\
        --corpus synthetic=runs/synth-test --corpus festival=runs/sung --vocals spleeter
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path


def languages_of(raw: Path) -> list[str]:
    """The ``Language`` values of a JamendoLyrics-layout folder's ``JamendoLyrics.csv``, in first-seen order."""
    with (raw / "JamendoLyrics.csv").open(encoding="utf-8", newline="") as handle:
        return list(dict.fromkeys(row["Language"].strip().lower() for row in csv.DictReader(handle)))


def named(values: list[str]) -> dict[str, Path]:
    pairs = [value.split("=", 1) for value in values]
    return {name: Path(path) for name, path in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="NAME=FOLDER of a transcriber")
    parser.add_argument("--corpus", action="append", required=True, help="NAME=FOLDER in the JamendoLyrics layout")
    parser.add_argument("--vocals", default=None, help="the vocal channel (default: each model's own)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from songalign.corpus.prepare import prepare_corpus
    from songalign.transcribe.evaluate import evaluate_transcriber

    models, corpora = named(args.model), named(args.corpus)
    rows = []
    for corpus_name, raw in corpora.items():
        for language in languages_of(raw):
            prepared = args.out / "prepared" / f"{corpus_name}-{language}"
            if not (prepared / "segments.parquet").is_file():
                prepare_corpus("jamendo", raw, prepared, progress=False, languages=[language])
            for model_name, folder in models.items():
                started = time.perf_counter()
                result = evaluate_transcriber(folder, prepared, split="all", vocals=args.vocals)
                ours, spread = result.alignment, result.even_spread
                rows.append({
                    "corpus": corpus_name, "language": language, "model": model_name, "songs": result.songs,
                    "words": ours.get("words"), "aae": ours.get("aae"), "median_ae": ours.get("median_ae"),
                    "pco": ours.get("pco"), "even_spread_aae": spread.get("aae"), "even_spread_pco": spread.get("pco"),
                    "per": (result.per.get("greedy") or {}).get("corpus"),
                    "wer_greedy": (result.wer.get("greedy") or {}).get("corpus"),
                    "skipped": result.alignment_skipped, "seconds": time.perf_counter() - started,
                })  # fmt: skip
                print(json.dumps(rows[-1], default=str), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"models": {k: str(v) for k, v in models.items()}, "corpora": {k: str(v) for k, v in corpora.items()},
               "vocals": args.vocals, "rows": rows}  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print("\n| corpus | language | songs | words | model | AAE (s) | PCO@0.3 % | even-spread AAE (s) | even-spread PCO % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['corpus']} | {r['language']} | {r['songs']} | {r['words']} | {r['model']} | {r['aae']:.3f} | "
              f"{100 * r['pco']:.1f} | {r['even_spread_aae']:.3f} | {100 * r['even_spread_pco']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
