"""Small numerical problems run in one thread: the probe's fits and the t-SNE maps.

scikit-learn's logistic regression (scipy's L-BFGS-B over a few thousand weights) and its Barnes-Hut
t-SNE (on a few hundred points) are far too small to gain from the thread pools of the BLAS and OpenMP
libraries they call. Those pools cost instead: their threads spin-wait between calls, beside torch's own
pool in the same process and other work on the machine, and on two cores that made each fit 3–5× slower
and a t-SNE map 10× slower (a fit of the probe took 0.1 s alone and 0.4 s in a pool of 2; measured in
``docs/benchmarks.md``). The results are the same up to float rounding: one thread only sums in another
order.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_thread() -> threadpool_limits:
    """A context in which every BLAS and OpenMP pool of the process (numpy's, scipy's, scikit-learn's,
    torch's) runs one thread; the pools' sizes come back on exit."""
    return threadpool_limits(limits=1)
