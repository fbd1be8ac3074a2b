"""Named factories of pretrained alignment models (open-unmix style): ``clap_pre(source=...)``, ``musicnn_bridge()``.

A factory returns an :class:`~songalign.align.model.AlignModel` built from a published
checkpoint as it is: nothing added, nothing trained. Save it with ``save_pretrained`` and it is
an ordinary model folder that ``songalign evaluate`` / ``index`` / ``search`` load, and that a
recipe can fine-tune from (``init_from``). The factories are registered by name in
:data:`PRETRAINED` (``songalign models build NAME``); another package adds its own through the
``songalign.pretrained_models`` entry points.

**CLAP-pre** (seed 000's "pretrained audio–text model, no fine-tuning") is a Hugging Face
``ClapModel`` checkpoint whole: HTSAT with CLAP's ``audio_projection`` as the audio side,
RoBERTa with CLAP's ``text_projection`` as the text side (``hf_clap_audio`` / ``hf_clap_text``
with ``use_projection``), no projection heads of ours (``projection: none``), and CLAP's own
learned logit scale. ``ClapModel`` has two: ``logits_per_audio = exp(logit_scale_a) · A·Tᵀ``
and ``logits_per_text = exp(logit_scale_t) · T·Aᵀ``. We take ``logit_scale_a``: the seed's
protocol ranks texts for an audio query (``logits_per_audio``), and LAION's training used
``logit_scale_a`` for both directions. Embeddings are ``get_audio_features`` /
``get_text_features`` L2-normalised, for clips of any length: short ones are repeat-padded by
CLAP's extractor, not zero-padded by us, and long ones cropped to the chosen window (a test checks
0.3 s, 1 s, 1.7 s and 3.3 s clips to 1e-5 on a tiny checkpoint).

The saved folder stores only the logit scale: both towers are frozen and referenced by the
config (the checkpoint's id or folder), not copied. Its card records the songs it was trained on
as unknown (``data.trained_songs: null``; the data is its publisher's), not as none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from songalign.align import PRETRAINED  # the registry; its entries point at the factories below
from songalign.align.losses import CLIP_MAX_SCALE, LogitScaleSettings
from songalign.align.model import AlignModel, FreezePolicy, ModelConfig, TowerSpec
from songalign.checkpoint import CARD_SPLITS
from songalign.errors import SongalignError
from songalign.hub import looks_like_path
from songalign.towers.hf_clap import CROPS, DEFAULT_CLAP, read_clap_checkpoint
from songalign.towers.musicnn import DEFAULT_MODEL as DEFAULT_TAGGER
from songalign.towers.musicnn import MODELS as MUSICNN_MODELS


def _source(source: str | Path) -> str:
    """A local folder as an absolute path (the saved config must find it from anywhere); a hub id as is."""
    text = str(source)
    path = Path(text).expanduser()
    return str(path.resolve()) if looks_like_path(text) or path.is_dir() else text


def clap_pre(source: str | Path = DEFAULT_CLAP, crop: str = "centre") -> AlignModel:
    """The seed's CLAP-pre: a CLAP checkpoint (Hugging Face id or local folder) as it is.

    ``crop`` picks which window of a clip longer than the checkpoint's clip length the audio
    tower keeps (``"centre"`` or ``"start"``; long audio is windowed before that by
    :meth:`AlignModel.embed_audio`). Clips are the checkpoint's length (10 s for LAION's);
    embeddings are ``projection_dim``-dimensional (512 for LAION's).
    """
    if crop not in CROPS:
        raise SongalignError(f"crop must be one of {', '.join(CROPS)}; got {crop!r}")
    source = _source(source)
    checkpoint = read_clap_checkpoint(source)
    if checkpoint.logit_scale_audio > math.log(CLIP_MAX_SCALE):
        # LAION's training clamps s at CLIP's 100, as AlignModel.scale does; a larger stored value would differ
        raise SongalignError(
            f"{source}: logit_scale_a = {checkpoint.logit_scale_audio:.3f} is above log({CLIP_MAX_SCALE:g}), the "
            "most a songalign model's scale can be; this checkpoint was not trained with CLAP's clamp"
        )
    config = ModelConfig(
        audio_tower=TowerSpec(name="hf_clap_audio", options={"model": source, "use_projection": True, "crop": crop}),
        text_tower=TowerSpec(name="hf_clap_text", options={"model": source, "use_projection": True, "normalize": True}),
        projection="none",
        embedding_dim=checkpoint.projection_dim,
        clip_seconds=checkpoint.clip_seconds,
        # τ₀ = 1/s of CLAP's learned s; learnable, so that a fine-tuning recipe may keep learning it
        logit_scale=LogitScaleSettings(init_temperature=math.exp(-checkpoint.logit_scale_audio)),
        logit_scale_trained=True,  # CLAP learned it
        freeze=FreezePolicy(audio_tower=True, text_tower=True, audio_projection=True, text_projection=True),
    )
    return AlignModel(config)


def clap_pre_card(source: str | Path = DEFAULT_CLAP, **_: Any) -> dict[str, Any]:
    """The model card of :func:`clap_pre`: trained outside songalign on data whose songs are unknown.

    ``data.trained_songs`` is None (unknown, not "no song": :func:`songalign.checkpoint.trained_songs`
    returns None for it) and ``provenance.training_data`` names the checkpoint and says its data is external.
    """
    checkpoint = _source(source)
    return {
        "name": "clap-pre",
        "kind": "align",
        "data": {"corpus": "", "songs": {split: [] for split in CARD_SPLITS}, "trained_songs": None},
        "recipe": {"factory": "songalign.align.pretrained:clap_pre", "source": checkpoint, "trained": False},
        "provenance": {
            "checkpoint": checkpoint,
            "logit_scale": "the checkpoint's logit_scale_a (ClapModel.logits_per_audio)",
            "training_data": f"external: {checkpoint} was trained by its publisher on their audio–text data "
            "(LAION's checkpoints: LAION-Audio-630K and others), so which songs its weights saw is unknown; "
            "songalign trained nothing",
        },
    }


def musicnn_bridge(
    tagger: str = DEFAULT_TAGGER, temperature: float = 0.05, weights: str | None = None, clip_seconds: float = 9.0
) -> AlignModel:
    """The zero-shot tag bridge: musicnn's tag probabilities against a query's weights over the same tags.

    Audio side: the ``musicnn`` tower's ``tags`` output (50 sigmoid probabilities, averaged over a
    clip's 3 s patches). Text side: ``musicnn_tag_prompts`` (MiniLM similarities between the query
    and prompts made from the tag names, softmax at ``temperature``). No projections, nothing
    trained; both towers are frozen and referenced by the saved config. Clips are 9 s (three
    whole patches) by default. ``tagger``: ``MSD_musicnn`` (genres and moods; the default) or
    another of :data:`songalign.towers.musicnn.MODELS`; ``weights``: a checkpoint folder.
    """
    config = ModelConfig(
        audio_tower=TowerSpec(name="musicnn", options={"model": tagger, "output": "tags", "weights": weights}),
        text_tower=TowerSpec(name="musicnn_tag_prompts", options={"tagger": tagger, "temperature": temperature}),
        projection="none",
        embedding_dim=len(MUSICNN_MODELS[tagger][1]) if tagger in MUSICNN_MODELS else 50,
        clip_seconds=clip_seconds,
        logit_scale=LogitScaleSettings(learnable=False),  # nothing learnt it: logit_scale_trained stays False
        freeze=FreezePolicy(audio_tower=True, text_tower=True, audio_projection=True, text_projection=True),
    )
    return AlignModel(config)


def musicnn_bridge_card(tagger: str = DEFAULT_TAGGER, temperature: float = 0.05, **_: Any) -> dict[str, Any]:
    """The model card of :func:`musicnn_bridge`: musicnn's weights were trained outside songalign."""
    dataset = "the Million Song Dataset's Last.fm tags" if tagger.startswith("MSD") else "MagnaTagATune"
    return {
        "name": "musicnn-bridge",
        "kind": "align",
        "data": {"corpus": "", "songs": {split: [] for split in CARD_SPLITS}, "trained_songs": None},
        "recipe": {"factory": "songalign.align.pretrained:musicnn_bridge", "tagger": tagger, "trained": False},
        "provenance": {
            "checkpoint": f"musicnn 0.1.0 wheel, {tagger}",
            "text_side": f"all-MiniLM-L6-v2 similarities to prompts of the {tagger} tag names, softmax at {temperature}",
            "training_data": f"external: {tagger} was trained by musicnn's authors on {dataset}, so which songs "
            "its weights heard is unknown; songalign trained nothing",
        },
    }


def build_pretrained(name: str, out: str | Path, **options: Any) -> Path:
    """Build the pretrained model ``name`` with ``options`` and save it as a model folder at ``out``."""
    entry = PRETRAINED.entry(name)
    model = PRETRAINED.build(name, **options)
    card_of = entry.metadata_value("card", PRETRAINED.what)
    card = card_of(**options) if callable(card_of) else {"name": name, "kind": "align"}
    return model.save_pretrained(out, card)
