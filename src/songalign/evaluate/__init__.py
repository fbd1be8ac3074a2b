"""Evaluation of alignment models: every figure with its chance level, pool and interval.

- :mod:`~songalign.evaluate.protocol`: seed 000's lyric-choice protocol (KL, top-k), intervals over queries;
- :mod:`~songalign.evaluate.retrieval`: cross-modal retrieval (R@k, MRR, median rank, P@k, mAP@10);
- :mod:`~songalign.evaluate.classify`: zero-shot classification and the train-fitted linear probe (MER);
- :mod:`~songalign.evaluate.ranking`: ranks with ties shared fairly, which all of the above use;
- :mod:`~songalign.evaluate.run`: one model on a prepared corpus → JSON + Markdown (its tables are
  reused by the quickstart report);
- :mod:`~songalign.evaluate.plots`: t-SNE maps and top-k charts.

The submodules are imported on demand (``from songalign.evaluate.run import evaluate_model``),
so importing this package stays cheap (no torch).
"""
