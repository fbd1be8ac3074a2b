"""The shared floor of metrics and report tables: every figure with its chance level, pool and interval.

Task-free: it imports nothing of songalign but :mod:`songalign.errors`, so every task (alignment,
transcription's lyric selection, captioning's retrieval) scores with the same code.

- :mod:`~songalign.evaluate.protocol`: seed 000's lyric-choice protocol (KL, top-k), intervals over queries;
- :mod:`~songalign.evaluate.retrieval`: cross-modal retrieval (R@k, MRR, median rank, P@k, mAP@10);
- :mod:`~songalign.evaluate.classify`: zero-shot classification and the train-fitted linear probe (MER);
- :mod:`~songalign.evaluate.ranking`: ranks with ties shared fairly, which all of the above use;
- :mod:`~songalign.evaluate.tables`: the Markdown tables of all of the above, each figure beside its
  chance level (an alignment model's page, :mod:`songalign.align.evaluate`, and the quickstart reports use them);
- :mod:`~songalign.evaluate.plots`: t-SNE maps and top-k charts.

The submodules are imported on demand (``from songalign.evaluate.protocol import lyric_choice``),
so importing this package stays cheap (no torch).
"""
