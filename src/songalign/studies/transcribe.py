"""``songalign transcribe quickstart``: seed 001's transcription experiment in miniature, from nothing to a report.

    synthetic corpus with vocal stems → segments and song-level splits
    → the vocals of every song separated once by the recipe's separator (Spleeter; cached per song)
    → train the baseline (zero pitch/onset), multi-task, oracle and pitch-only transcribers (configs/alt_small.yaml)
    → WER/CER (greedy and with a word LM of the training lyrics), COn/COnP, alignment AAE/PCO with the
      even-spread baseline, on the test songs
    → lyric selection: CTC likelihood, CLAP-lyr (trained here from CLAP-pre, as in `songalign quickstart`)
      and their fusion, in seed 000's lyric-choice protocol
    → with ``vocal_channels``: the multi-task recipe trained and tested with each vocal channel (e.g. mix, stem,
      spleeter), one table
    → report.md (the seed's Tables 1 and 2 beside ours) and results.json

Every step keeps its output in the working folder and is skipped when it is there, so an interrupted
run resumes (training itself resumes from its last checkpoint).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.synth import ensure_synthetic_corpus
from songalign.runs import recipe_path, updated
from songalign.studies.steps import clap_model, prepared, step, trained

MODES = ("baseline", "multitask", "oracle", "pitch")
"""The four transcribers, in the order of the seed's tables."""

SEED_TABLE_1 = {"baseline": 69.22, "multitask": 68.29, "oracle": 64.41}
"""Seed 001's Table 1: WER (%) on DALI-test (their baseline, multi-task and oracle models)."""

SEED_TABLE_2 = {
    "pitch": {"con": (53.21, 30.99, 38.77), "conp": (36.92, 21.49, 26.90)},
    "multitask": {"con": (57.80, 29.06, 38.41), "conp": (39.18, 19.81, 26.14)},
}
"""Seed 001's Table 2 on DALI-test: (precision, recall, F) in % of COn and COnP."""

PITCH_EPOCHS = 5
"""Epochs of the pitch/onset-only model (its framewise pitch error levels off by then)."""

MODE_LABELS = {
    "baseline": "baseline (zero pitch/onset)",
    "multitask": "multi-task",
    "oracle": "oracle (annotated pitch/onset)",
    "pitch": "pitch/onset only",
}


def run_transcribe_quickstart(
    out: str | Path,
    *,
    songs: int = 48,
    seed: int = 0,
    pool: int = 10,
    draws: int = 5,
    epochs: int | None = None,
    settings: dict[str, Any] | None = None,
    vocal_channels: Sequence[str] = (),
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> Path:
    """Run every step into ``out``; returns the path of ``report.md``.

    ``epochs`` caps training and ``settings`` change the transcribers' recipe (``configs/alt_small.yaml``;
    nested dicts as :func:`songalign.runs.updated` takes them, e.g. ``{"data": {"clip_frames": 256}}``),
    for a quick look or a smoke test. The four transcribers hear the recipe's vocal channel (``spleeter``:
    every song is separated once, before training, and kept in the separation cache). ``vocal_channels``
    (e.g. ``("mix", "stem", "spleeter")``) adds the multi-task recipe trained and tested with each channel.
    """
    import songalign.transcribe.train as transcribe_training
    from songalign.transcribe.evaluate import evaluate_transcriber
    from songalign.transcribe.listen import song_audio

    out = Path(out)
    raw, corpus, runs = out / "synth", out / "corpus", out / "runs"
    timings: dict[str, float] = {}

    started = step(log, "1. synthetic corpus with vocal stems")
    ensure_synthetic_corpus(raw, n_songs=songs, seed=seed, stems=True)
    timings["synthesise"] = time.perf_counter() - started

    started = step(log, "2. segments and splits")
    prepared(raw, corpus, seed, progress=progress)
    timings["prepare"] = time.perf_counter() - started

    def recipe_for(mode: str, run: Path, channel: str | None = None) -> Any:
        train_settings: dict[str, Any] = {"seed": seed}
        if mode == "pitch":  # pitch and onsets are learnt in a few epochs; CTC needs more
            train_settings["epochs"] = PITCH_EPOCHS
        if epochs is not None:
            train_settings["epochs"] = epochs
        recipe = updated(
            transcribe_training.load_recipe(recipe_path("alt_small")),
            data={"corpus": corpus},
            out=run,
            train=train_settings,
            model={"mode": mode},
        )
        recipe = updated(recipe, **(settings or {}))
        return recipe if channel is None else updated(recipe, model={"vocals": channel})

    manifest = CorpusManifest.load(corpus)
    channels = list(dict.fromkeys([recipe_for("multitask", runs).model.vocals, *vocal_channels]))
    for channel in (c for c in channels if c not in ("mix", "stem")):
        started = step(log, f"2b. separate the vocals of every song ({channel}, once: kept in the separation cache)")
        for song in manifest.songs:
            song_audio(song, channel)
        timings[f"separate ({channel})"] = time.perf_counter() - started

    models: dict[str, Path] = {}
    for mode in MODES:
        started = step(log, f"3. train the {MODE_LABELS[mode]} transcriber")
        folder = runs / mode / "model"
        recipe = recipe_for(mode, runs / mode)
        models[mode] = folder if trained(folder) else transcribe_training.train(recipe, progress=progress)
        timings[f"train {mode}"] = time.perf_counter() - started

    started = step(log, "4. evaluate on the test songs")
    results = {mode: evaluate_transcriber(models[mode], corpus, decode=recipe.decode).to_dict() for mode in MODES}
    lm = results["multitask"]["lm"]  # the LM's order and size as the evaluation read them, the lines from the card
    timings["evaluate"] = time.perf_counter() - started

    by_channel: dict[str, Any] = {}
    for channel in vocal_channels:
        if channel == channels[0]:  # the multi-task model above heard it
            by_channel[channel] = results["multitask"]
            continue
        started = step(log, f"4b. the multi-task transcriber trained and tested with vocals={channel}")
        run = runs / f"multitask-vocals-{channel_slug(channel)}"
        folder = run / "model"
        folder = folder if trained(folder) else transcribe_training.train(recipe_for("multitask", run, channel),
                                                                          progress=progress)  # fmt: skip
        by_channel[channel] = evaluate_transcriber(folder, corpus, decode=recipe.decode).to_dict()
        timings[f"vocals={channel}"] = time.perf_counter() - started

    started = step(log, "5. lyric selection: CTC likelihood, CLAP-lyr and their fusion")
    clap_pre = clap_model("clap_pre", runs / "clap_pre", corpus, seed, epochs, progress=progress)
    clap_lyr = clap_model("clap_lyr", runs / "clap_lyr", corpus, seed, epochs, progress=progress, init_from=clap_pre)
    selection = lyric_selection_on_split(models["multitask"], clap_lyr, corpus, pool=pool, draws=draws, seed=seed)
    timings["lyric selection"] = time.perf_counter() - started

    summary = {
        "songs": songs,
        "seed": seed,
        "corpus": {"songs": len(manifest.songs), "test_songs": results["multitask"]["songs"]},
        "lm": lm,
        "vocals": channels[0],
        "results": results,
        "vocal_channels": by_channel,
        "lyric_selection": selection,
        "timings_s": timings,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    report = out / "report.md"
    report.write_text(render_transcribe_report(summary), encoding="utf-8")
    return report


def channel_slug(channel: str) -> str:
    """A vocal channel as a folder name: ``spleeter`` stays, ``open-unmix:models/umx`` → ``open-unmix-models-umx``."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in channel).strip("-") or "channel"


def segment_emissions(log_probs: np.ndarray, start: float, end: float, emission_seconds: float) -> np.ndarray:
    """The rows of a song's emissions ``(T2, V)`` that cover ``[start, end]`` seconds."""
    first = max(0, int(math.floor(start / emission_seconds)))
    last = min(len(log_probs), int(math.ceil(end / emission_seconds)))
    return log_probs[first:last]


def lyric_selection_on_split(
    transcriber_dir: Path, clap_dir: Path, corpus: Path, *, split: str = "test", pool: int = 10, draws: int = 5,
    seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Seed 000's lyric choice on ``split``'s segments by CTC likelihood, by CLAP-lyr and by their fusion.

    Each segment's emissions are the rows of its song's emissions (the song heard whole) inside the
    segment's span; CLAP-lyr embeds the segment's audio window and its lyrics as `evaluate` does.
    """
    from songalign.align.evaluate import embed_segments, logit_scale_of
    from songalign.align.model import AlignModel
    from songalign.audio.cache import FeatureCache
    from songalign.errors import SkipReport
    from songalign.transcribe.evaluate import held_out
    from songalign.transcribe.model import Transcriber
    from songalign.transcribe.rank import lyric_selection
    from songalign.transcribe.train import load_targets, split_songs

    manifest = CorpusManifest.load(corpus)
    transcriber = Transcriber.from_pretrained(transcriber_dir)
    cache = FeatureCache(Path(corpus) / ".cache" / "transcribe")
    songs, _ = held_out(
        transcriber_dir,
        load_targets(split_songs(manifest, split), transcriber.config, cache, SkipReport(), need_notes=False),
    )
    wanted = {song.song_id for song in songs}
    clap = AlignModel.from_pretrained(clap_dir)
    segments = [s for s in manifest.split(split) if s.song_id in wanted and s.text.strip()]
    embedded = embed_segments(clap, segments, Path(corpus) / ".cache" / "features")
    by_song = {song.song_id: transcriber.emissions_from_features(song.mel, song.notes) for song in songs}
    emissions = [
        segment_emissions(by_song[s.song_id].log_probs, s.start, s.end, by_song[s.song_id].emission_seconds)
        for s in embedded.segments
    ]
    texts, lyric_vectors = embedded.texts["lyrics"]
    results = lyric_selection(
        emissions, texts, embedded.audio, lyric_vectors, pool=pool, draws=draws, seed=seed, scale=logit_scale_of(clap)
    )
    return {name: result.to_dict() for name, result in results.items()}


# -- report ---------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def vocal_channel_table(by_channel: dict[str, Any]) -> list[str]:
    """report.md's table of the multi-task recipe trained and tested with each vocal channel (Markdown lines)."""
    lines = [
        "## The vocal channel: the multi-task model trained and tested with each",
        "",
        "| vocals | WER greedy % | CER greedy % | WER with LM % | AAE (s) | PCO@0.3 s % | COnP F % |",
        "|---|---|---|---|---|---|---|",
    ]
    for channel, r in by_channel.items():
        conp = (r.get("notes") or {}).get("conp", {}).get("f_measure")
        lines.append(
            f"| {channel} | {_pct(r['wer']['greedy']['corpus'])} | {_pct(r['cer']['greedy']['corpus'])} | "
            f"{_pct(r['wer']['lm']['corpus'])} | {r['alignment']['aae']:.3f} | {_pct(r['alignment']['pco'])} | "
            f"{_pct(conp)} |"
        )
    lines += [
        "",
        "mix: the vocal channel is a copy of the mix; stem: the synthetic songs' clean vocals (an oracle "
        "separation no real song has); spleeter: Spleeter's 2-stem vocals, what a user's song gets.",
    ]
    return lines


def render_transcribe_report(summary: dict[str, Any]) -> str:
    """report.md: the seed's Tables 1 and 2 beside ours, alignment, lyric selection, timings."""
    from songalign.evaluate.tables import lyric_choice_table

    results = summary["results"]
    test_songs = summary["corpus"]["test_songs"]
    lm = summary["lm"]
    lines = [
        "# songalign transcribe quickstart: seed 001's lyrics transcriber in miniature",
        "",
        f"{summary['corpus']['songs']} synthetic songs (seed {summary['seed']}), song-level 70/15/15 splits; every "
        f"figure is on the {test_songs} test songs, heard whole, which no model trained on. Texts are normalised "
        "(lower case, a-z, apostrophe and single spaces) before WER/CER. The LM is a "
        f"{lm['order']}-gram (modified Kneser-Ney) of the {lm['lines']} training lyric lines ({lm['words']} words), "
        "decoded by CTC beam search (beam 25); each lyrics model's folder holds its own, of its training songs. The "
        "synthetic lyrics come from one grammar, so the LM knows most of the test songs' phrases: on real songs it "
        "helps far less.",
        "",
        f"Vocal channel: every model hears `{summary.get('vocals', 'stem')}` "
        + (
            "(Spleeter's 2-stem vocals, separated from each song once and cached, in training as on a user's songs)."
            if str(summary.get("vocals", "")).startswith("spleeter")
            else "(the recipe's, set for this run)."
        ),
        "",
        "## Table 1: transcription (WER and CER, %)",
        "",
        "| model | WER greedy | WER with LM | WER with LM, song mean | CER greedy | CER with LM | seed 001 WER (DALI-test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in ("baseline", "multitask", "oracle"):
        r = results[mode]
        lines.append(
            f"| {MODE_LABELS[mode]} | {_pct(r['wer']['greedy']['corpus'])} | {_pct(r['wer']['lm']['corpus'])} | "
            f"{_pct(r['wer']['lm']['song_mean'])} | {_pct(r['cer']['greedy']['corpus'])} | "
            f"{_pct(r['cer']['lm']['corpus'])} | {SEED_TABLE_1[mode]:.2f} |"
        )
    lines += [
        "",
        "WER and CER are corpus-level (all edits over all reference words or characters) unless marked song mean "
        "(the seed's per-song average). The seed's figures are on real songs (DALI); ours on synthetic ones, "
        "so only the ordering of the rows compares.",
        "",
        "## Table 2: notes (COn and COnP, %, 50 ms onset tolerance, 50 cents)",
        "",
        "| model | COn P | COn R | COn F | COnP P | COnP R | COnP F | seed 001 COn F | seed 001 COnP F |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("pitch", "multitask"):
        notes = results[mode]["notes"]
        seed = SEED_TABLE_2[mode]
        cells = [_pct(notes[k][m]) for k in ("con", "conp") for m in ("precision", "recall", "f_measure")]
        lines.append(f"| {MODE_LABELS[mode]} | {' | '.join(cells)} | {seed['con'][2]:.2f} | {seed['conp'][2]:.2f} |")
    lines += [
        "",
        "Onsets by peak picking (threshold 0.4, 50 ms window), each note's pitch the median framewise class of "
        "the pitch head; per-song means, as the seed reports.",
        "",
        "## Alignment: known lyrics forced-aligned to the audio (word onsets)",
        "",
        "| model | AAE (s) | median AE (s) | median deviation (s) | PCO@0.3 s % | even-spread AAE (s) "
        "| even-spread PCO % | AAE ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("baseline", "multitask", "oracle"):
        a, b = results[mode]["alignment"], results[mode]["even_spread"]
        ratio = b["aae"] / a["aae"] if a["aae"] > 0 else math.inf
        lines.append(
            f"| {MODE_LABELS[mode]} | {a['aae']:.3f} | {a['median_ae']:.3f} | {a['median_deviation']:+.3f} | "
            f"{_pct(a['pco'])} | {b['aae']:.3f} | "
            f"{_pct(b['pco'])} | {ratio:.1f}× |"
        )
    lines += [
        "",
        "AAE is the mean absolute word-onset error per song, averaged over songs; median AE the median absolute "
        "error per song, averaged over songs; median deviation the median signed error (predicted − true, "
        "positive when late) over all words; PCO@0.3 the share of words within 0.3 s, averaged over songs "
        "(JamendoLyrics' definitions: mean_AE, median_AE, median_deviation, mauch). The even-spread baseline spreads the "
        "same words evenly over the annotated sung span in the same run; the ratio is its AAE over the model's.",
    ]
    if summary.get("vocal_channels"):
        lines += ["", *vocal_channel_table(summary["vocal_channels"])]
    lines += [
        "",
        "## Lyric selection (seed 000's lyric-choice protocol, test segments)",
        "",
    ]
    selection = summary["lyric_selection"]
    lines += lyric_choice_table({(name,): result for name, result in selection.items()}, ["method"])
    lines += [
        "",
        "CTC likelihood: log P(lyrics | audio) under the multi-task transcriber; CLAP-lyr: the cosine of the "
        "joint embeddings (trained here as `songalign quickstart` does); fusion: the mean of the two scores' "
        "z-scores, each taken over all the split's lyrics for that segment's audio (no label used). The same seeded pools for all three; ± is a 95% interval over "
        "the queries (segments; those of one song are not independent, so it is optimistic).",
        "",
        "## Examples (test songs, first 160 characters)",
        "",
    ]
    for example in results["multitask"]["examples"]:
        lines += [
            f"- **{example['song']}**",
            f"  - reference: {example['reference']}",
            f"  - greedy: {example['greedy']}",
            f"  - with LM: {example['lm']}",
        ]
    lines += ["", "## Timings (s)", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {step} | {seconds:.0f} |" for step, seconds in summary["timings_s"].items()]
    return "\n".join(lines) + "\n"
