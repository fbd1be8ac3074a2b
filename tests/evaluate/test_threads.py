"""one_thread: every BLAS and OpenMP pool of the process at one thread inside, as it was after."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from songalign.evaluate.classify import fit_probe
from songalign.evaluate.threads import one_thread


def test_one_thread_limits_every_pool_and_restores_them():
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    with threadpool_limits(limits=2):
        before = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}
        assert before and max(before.values()) == 2
        with one_thread():
            assert {pool["num_threads"] for pool in threadpool_info()} == {1}
        assert {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()} == before


def test_the_probe_fitted_in_one_thread_equals_the_one_fitted_in_a_pool():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 60)
    embeddings = rng.standard_normal((60, 16)) + 0.8 * np.eye(16)[labels]
    groups = [f"song{i // 4}" for i in range(60)]
    texts = [str(label) for label in labels]
    fitted = fit_probe(embeddings, texts, groups)  # in one thread, as the library runs it
    import songalign.evaluate.classify as classify

    pooled = classify._probe_pipeline(fitted.c, 0)
    with threadpool_limits(limits=2):
        pooled.fit(embeddings, texts)
    held = rng.standard_normal((20, 16)) + 0.8 * np.eye(16)[rng.integers(0, 3, 20)]
    # L-BFGS stops once its gradient is under scikit-learn's tol (1e-4): summing in another order may stop it
    # at a neighbouring point, so the probabilities agree to about that, not to the last bit
    np.testing.assert_allclose(fitted.pipeline.predict_proba(held), pooled.predict_proba(held), rtol=0, atol=1e-3)
