"""The studies: each seed's experiment in miniature, from nothing to a report. They use every task.

- :mod:`.quickstart` — ``songalign quickstart``: seed 000 (CLAP-pre, CLAP-lyr, CLAP-emo, the musicnn
  models), lyric choice, retrieval, zero-shot and probe, ``report.md`` and ``results.json``.
- :mod:`.transcribe` — ``songalign transcribe quickstart``: seed 001 (four transcribers, WER/CER,
  COn/COnP, alignment beside the even spread, lyric selection), ``report.md`` and ``results.json``.
- :mod:`.steps` — what both share: logged steps that are skipped when their output is there (so an
  interrupted study resumes), and their song-level split.
- :mod:`.commands` — the two commands.

This is the top floor below the CLI: a study may import any task; no task imports a study.
"""
