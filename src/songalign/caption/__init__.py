"""Song captioning from audio + lyrics: BART-fusion, ALCAP and RECAP (seeds 002–004).

A captioner writes an interpretation of a song from its lyrics and its music: BART encodes the
lyrics, a frozen music encoder's sequence is fused into chosen encoder layers by cross-attention,
and — ALCAP, RECAP — the two are aligned by a contrastive loss before fusion
(``L = L_cap + α·L_contrast``, α = 0.02).

- :mod:`.data` — the songs of a prepared corpus with their interpretations, vote variants, song-level
  splits that follow the music tower's alignment model (the data comes from the ``interpretation``
  reader for the Song Interpretation Dataset, or from the synthetic corpus's generator)
- :mod:`.music` — the frozen music encoder (by default the pretrained musicnn MSD tagger's mid-end sequence)
  and its cached sequence features
- :mod:`.model` — :class:`~songalign.caption.model.CaptionModel` (fusion, alignment head, generation)
- :mod:`.train` — recipes (``configs/alcap.yaml``, ``recap.yaml``, ``bart_fusion.yaml``, ``bart_text.yaml``), Lightning
- :mod:`.metrics` — ROUGE-1/2/L, METEOR (WordNet offline), caption-based retrieval p@k / r@k
- :mod:`.evaluate`, :mod:`.plots`, :mod:`.study` — scoring, heat maps, the comparison (with its music/lyrics
  shuffle test) and the α sweep
- :mod:`.commands` — ``songalign caption data|train|generate|evaluate|attention|alpha-sweep|compare``

Importing this package is cheap; the heavy modules load when used.
"""

from __future__ import annotations

from songalign.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CaptionCorpus": "data",
    "CaptionModel": "model",
    "CaptionRecipe": "train",
    "load_recipe": "train",
    "evaluate_captioner": "evaluate",
}  # public name → the submodule that defines it

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
