"""Classification on audio embeddings: zero-shot from text prompts, and a linear probe (MER).

Zero-shot (MusCALL / CLAP): each label becomes a prompt (``"a {label} song"`` by default),
embedded by the text side; a clip's scores are its cosine similarities to the prompts.
Accuracy is top-1, with tied top scores sharing the credit; macro ROC-AUC and PR-AUC treat each
label one-vs-rest (scikit-learn; chance ROC-AUC is 0.5). A model that knows nothing can fail in
two ways, so both chance figures are reported: zero (or tied) embeddings tie every label and
score ``100 / C`` % (``chance_accuracy``); a collapsed non-zero embedding picks the same label
for every clip and scores that label's share, at most the split's ``majority_share``.

Linear probe (the seed's "MER" future work): logistic regression on frozen audio embeddings,
fitted on the *train* split only and scored on held-out splits. Its regularisation ``C`` is
chosen by cross-validation inside the train split with folds grouped by song, so no song is in
both the fitted and the scored part of a fold, and no held-out song is seen before scoring.
A probe on features that carry nothing (constant embeddings) predicts train's most frequent
label for every clip, so it scores ``majority_baseline``: that label's share of the held-out
split (shared among train's most frequent labels when several tie). A probe on noise guesses
roughly as often as labels occur in train, ``prior_guess_accuracy = Σ_c train share_c ·
held-out share_c``. ``chance_accuracy`` is the larger of the two, so a probe at or below it
has learned nothing from the embeddings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from songalign.evaluate.ranking import first_relevant_rank
from songalign.evaluate.threads import one_thread

DEFAULT_TEMPLATES = ("a {label} song", "music that feels {label}", "a song full of {label}")

PROBE_C_GRID = (0.01, 0.1, 1.0, 10.0)
"""Inverse regularisation strengths the probe chooses from (logistic regression's ``C``)."""


def shares_of(labels: Sequence[str]) -> dict[str, float]:
    """Each label's share of ``labels`` (fractions summing to 1)."""
    return {str(label): count / len(labels) for label, count in Counter(labels).items()}


def score_metrics(scores: np.ndarray, labels: Sequence[str], vocabulary: Sequence[str]) -> dict[str, float]:
    """Accuracy (%), macro ROC-AUC and macro PR-AUC of ``scores (N, C)`` against true ``labels``.

    Accuracy credits an item whose true label ties with others for the top score with
    ``1 / (labels tied)``, the expectation of a random tie-break.
    """
    vocabulary = list(vocabulary)
    truth = np.array([vocabulary.index(label) for label in labels])
    onehot = np.eye(len(vocabulary), dtype=int)[truth]
    hits = [first_relevant_rank(row, target.astype(bool)).hit_at(1) for row, target in zip(scores, onehot, strict=True)]
    result = {"accuracy": 100.0 * float(np.mean(hits)), "items": float(len(truth))}
    present = onehot.sum(axis=0) > 0  # AUCs are defined only for labels that occur
    if present.sum() >= 2:
        result["roc_auc_macro"] = float(roc_auc_score(onehot[:, present], scores[:, present], average="macro"))
        result["pr_auc_macro"] = float(average_precision_score(onehot[:, present], scores[:, present], average="macro"))
    return result


class LabelPrompts:
    """The prompt embeddings of a vocabulary's labels through one text side, each computed once.

    ``embed_text`` maps texts to embeddings ``(N, D)`` (a model's ``embed_text``). Calling this with
    a vocabulary of C labels and templates gives ``(C, D)`` unit rows: per label, the mean of its
    templates' embeddings, renormalised. Each (vocabulary, templates) is embedded on its first call
    and read back after, so hold one per model while its weights stay as they are (an evaluation:
    every zero-shot task on every split) and pass it to :func:`zero_shot`.
    """

    def __init__(self, embed_text: Callable[[list[str]], np.ndarray]):
        self.embed_text = embed_text
        self._vectors: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}

    def __call__(self, vocabulary: Sequence[str], templates: Sequence[str] = DEFAULT_TEMPLATES) -> np.ndarray:
        key = (tuple(vocabulary), tuple(templates))
        if key not in self._vectors:
            prompts = np.stack(
                [self.embed_text([t.format(label=label) for t in templates]).mean(axis=0) for label in vocabulary]
            )
            prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
            prompts.flags.writeable = False  # shared by every later call
            self._vectors[key] = prompts
        return self._vectors[key]


def zero_shot(
    audio: np.ndarray,
    labels: Sequence[str],
    vocabulary: Sequence[str],
    prompts: LabelPrompts | Callable[[list[str]], np.ndarray],
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> dict[str, float]:
    """Zero-shot classification of ``audio (N, D)`` embeddings against the ``vocabulary``'s label prompts.

    ``prompts`` is a :class:`LabelPrompts` (whose embeddings are reused across calls) or a text side
    ``embed_text`` (texts → ``(N, D)``), embedded afresh; a label's prompt is the mean of its
    ``templates``' embeddings. Returns :func:`score_metrics`'s figures, ``chance_accuracy`` (``100 / C`` %)
    and ``majority_share`` (% of the most frequent label in ``labels``), the two figures of a model
    that knows nothing.
    """
    vectors = (prompts if isinstance(prompts, LabelPrompts) else LabelPrompts(prompts))(vocabulary, templates)
    audio = audio / np.maximum(np.linalg.norm(audio, axis=1, keepdims=True), 1e-12)
    chance = {"chance_accuracy": 100.0 / len(vocabulary), "majority_share": 100.0 * max(shares_of(labels).values())}
    return score_metrics(audio @ vectors.T, labels, vocabulary) | chance


def probe_unavailable(labels: Sequence[str], groups: Sequence[str]) -> str | None:
    """Why a probe cannot be fitted on these train ``labels`` and song ``groups``, or None when it can."""
    if len(set(labels)) < 2:
        return f"the train split has {len(set(labels))} distinct label(s); a probe needs 2 or more"
    if len(set(groups)) < 2:
        return f"the train split has {len(set(groups))} song(s); choosing the probe's C needs 2 or more"
    return None


def _probe_pipeline(c: float, seed: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=c, random_state=seed))


@dataclass
class FittedProbe:
    """A logistic-regression probe fitted on train embeddings, with how its ``C`` was chosen.

    ``cv_accuracy`` maps each tried ``C`` to its mean song-grouped cross-validated accuracy (%)
    inside the train split; ``segments`` and ``songs`` count what it was fitted on.
    """

    pipeline: Pipeline
    c: float
    folds: int
    segments: int
    songs: int
    label_shares: dict[str, float]
    cv_accuracy: dict[float, float] = field(default_factory=dict)

    def score(self, embeddings: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
        """Figures of the probe on held-out ``embeddings (N, D)`` and their ``labels``.

        Accuracy, ``chance_accuracy``, ``majority_baseline`` and ``prior_guess_accuracy`` in %
        (see the module docstring), macro ROC-AUC and PR-AUC.
        """
        classes = [str(c) for c in self.pipeline.classes_]
        vocabulary = sorted(set(classes) | set(labels))
        # labels the probe never saw get no probability: they can only be missed
        scores = np.full((len(labels), len(vocabulary)), -1e9)
        scores[:, [vocabulary.index(c) for c in classes]] = self.pipeline.predict_log_proba(embeddings)
        result = score_metrics(scores, labels, vocabulary)
        held_out = shares_of(labels)
        top_share = max(self.label_shares.values())
        most_frequent = [label for label, share in self.label_shares.items() if share == top_share]
        result["majority_baseline"] = 100.0 * float(np.mean([held_out.get(label, 0.0) for label in most_frequent]))
        result["prior_guess_accuracy"] = 100.0 * sum(
            share * held_out.get(label, 0.0) for label, share in self.label_shares.items()
        )
        result["chance_accuracy"] = max(result["majority_baseline"], result["prior_guess_accuracy"])
        return result

    def describe(self) -> dict[str, float | int | str | dict[str, float]]:
        """What the probe was fitted on and how ``C`` was chosen (JSON-able)."""
        return {
            "split": "train",
            "segments": self.segments,
            "songs": self.songs,
            "C": self.c,
            "folds": self.folds,
            "cv_accuracy": {str(c): accuracy for c, accuracy in self.cv_accuracy.items()},
        }


def fit_probe(
    embeddings: np.ndarray,
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    c_grid: Sequence[float] = PROBE_C_GRID,
    folds: int = 5,
    seed: int = 0,
) -> FittedProbe:
    """Fit a probe on train ``embeddings (N, D)`` and ``labels``, choosing ``C`` by folds grouped by song ``groups``.

    Each ``C`` of ``c_grid`` is scored by the mean accuracy over ``min(folds, songs)`` song-grouped
    folds (a fold whose fitted part holds a single label is skipped); the best ``C`` (the smaller
    on a tie) is refitted on all of ``embeddings``. Check :func:`probe_unavailable` first.
    """
    labels_array, groups_array = np.asarray(labels), np.asarray(groups)
    reason = probe_unavailable(labels, groups)
    if reason:
        raise ValueError(reason)
    n_folds = min(folds, len(set(groups)))
    splits = [
        (fit, held)
        for fit, held in GroupKFold(n_splits=n_folds).split(embeddings, labels_array, groups_array)
        if len(set(labels_array[fit].tolist())) >= 2
    ]
    cv_accuracy: dict[float, float] = {}
    with one_thread():  # tiny problems: a thread pool only slows them (songalign.evaluate.threads)
        for c in c_grid:
            accuracies = []
            for fit, held in splits:
                pipeline = _probe_pipeline(c, seed).fit(embeddings[fit], labels_array[fit])
                accuracies.append(100.0 * float(np.mean(pipeline.predict(embeddings[held]) == labels_array[held])))
            if accuracies:
                cv_accuracy[float(c)] = float(np.mean(accuracies))
        best = max(cv_accuracy, key=lambda c: (cv_accuracy[c], -c)) if cv_accuracy else 1.0
        fitted = _probe_pipeline(best, seed).fit(embeddings, labels_array)
    return FittedProbe(
        pipeline=fitted,
        c=best,
        folds=n_folds,
        segments=len(labels_array),
        songs=len(set(groups)),
        label_shares=shares_of(labels),
        cv_accuracy=cv_accuracy,
    )
