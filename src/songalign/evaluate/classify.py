"""Classification on audio embeddings: zero-shot from text prompts, and a linear probe (MER).

Zero-shot (MusCALL / CLAP): each label becomes a prompt (``"a {label} song"`` by default),
embedded by the text side; a clip's scores are its cosine similarities to the prompts.
Accuracy is top-1; macro ROC-AUC and PR-AUC treat each label one-vs-rest (scikit-learn).

Linear probe (the seed's "MER" future work): logistic regression on frozen audio embeddings,
cross-validated with folds grouped by song so no song is in both the fitted and the scored part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_TEMPLATES = ("a {label} song", "music that feels {label}", "a song full of {label}")


def score_metrics(scores: np.ndarray, labels: Sequence[str], vocabulary: Sequence[str]) -> dict[str, float]:
    """Accuracy (%), macro ROC-AUC and macro PR-AUC of ``scores (N, C)`` against true ``labels``."""
    vocabulary = list(vocabulary)
    truth = np.array([vocabulary.index(label) for label in labels])
    onehot = np.eye(len(vocabulary), dtype=int)[truth]
    present = onehot.sum(axis=0) > 0  # AUCs are defined only for labels that occur
    result = {"accuracy": 100.0 * float(accuracy_score(truth, scores.argmax(axis=1))), "items": float(len(truth))}
    if present.sum() >= 2:
        result["roc_auc_macro"] = float(roc_auc_score(onehot[:, present], scores[:, present], average="macro"))
        result["pr_auc_macro"] = float(average_precision_score(onehot[:, present], scores[:, present], average="macro"))
    return result


def zero_shot(
    audio: np.ndarray,
    labels: Sequence[str],
    vocabulary: Sequence[str],
    embed_text: Callable[[list[str]], np.ndarray],
    templates: Sequence[str] = DEFAULT_TEMPLATES,
) -> dict[str, float]:
    """Zero-shot classification of ``audio (N, D)`` embeddings; prompt embeddings are averaged over templates."""
    prompts = np.stack([embed_text([t.format(label=label) for t in templates]).mean(axis=0) for label in vocabulary])
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    audio = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    return score_metrics(audio @ prompts.T, labels, vocabulary)


def linear_probe(
    embeddings: np.ndarray, labels: Sequence[str], groups: Sequence[str], folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """Cross-validated logistic regression accuracy (%) of ``labels`` from frozen ``embeddings (N, D)``.

    Folds are grouped by ``groups`` (song ids). Returns the pooled out-of-fold metrics and the
    spread of per-fold accuracy.
    """
    labels = np.asarray(labels)
    vocabulary = sorted(set(labels.tolist()))
    folds = min(folds, len(set(groups)))
    if folds < 2 or len(vocabulary) < 2:
        return {}
    scores = np.zeros((len(labels), len(vocabulary)))
    accuracies = []
    for train, test in GroupKFold(n_splits=folds).split(embeddings, labels, groups):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
        probe.fit(embeddings[train], labels[train])
        fold_scores = np.full((len(test), len(vocabulary)), -np.inf)
        fold_scores[:, [vocabulary.index(c) for c in probe.classes_]] = probe.predict_log_proba(embeddings[test])
        scores[test] = fold_scores
        accuracies.append(100.0 * accuracy_score(labels[test], np.asarray(vocabulary)[fold_scores.argmax(axis=1)]))
    scores = np.where(np.isfinite(scores), scores, -1e9)
    result = score_metrics(scores, labels.tolist(), vocabulary)
    result.update(folds=float(folds), fold_accuracy_std=float(np.std(accuracies)))
    return result
