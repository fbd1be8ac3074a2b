"""The captioner: BART with music fused into its encoder (BART-fusion), aligned first (ALCAP, RECAP).

::

    lyrics ─ BART encoder layers 0 … k−1 ─ h^t ─┬─ layer k ─ fusion ─ … ─ layer n−1 ─ fusion ─ BART decoder ─ caption
                                                │                ▲                      ▲
    music excerpt ─ frozen tower ─ h^m (l_m×d_m)┼────────────────┴──────────────────────┘
                                                │
               mean-pool + linear → z^t, z^m ───┴─ L_contrast (InfoNCE: ALCAP eq. 1; positive cosine: RECAP eq. 1)

    L = L_cap + α · L_contrast          (α = 0.02 by default; 0 for BART-fusion)

**Fusion** (BART-fusion's code, which ALCAP keeps): after each chosen encoder layer, the lyrics
states ``h ∈ R^{B×l_t×d}`` attend to the music ``h^m ∈ R^{B×l_m×d_m}``::

    Q = W_q h,  K = W_k h^m,  V = W_v h^m                      (all → d = BART's d_model)
    a = MultiHeadAttention(Q, K, V)                             (ALCAP: 1 head)
    a = σ(W_g [a; h]) ⊙ a                                       (optional forget gate)
    h ← LayerNorm(h + 0.1 · a)                                  (residual scale 0.1)

One fusion module is shared by all chosen layers, as in the reference code (``shared=False``
gives each layer its own). ALCAP fuses after layers 4 and 5 of bart-base's 6; the default here
is the last two layers of whatever encoder is loaded.

**Alignment** (before fusion): the text side is the encoder state that enters the first fusion
layer (ALCAP's ``contrast_layer = 4``), mean-pooled over real tokens (ALCAP's code also averages
the padding; a masked mean does not), and the music side the mean over frames. As in ALCAP's
code, one linear map takes the wider of the two to the narrower one's size (identity when
equal). Items of the same song in a batch would be false negatives, so only each song's first
item enters the contrastive loss (ALCAP's code does the same). The losses are the shared ones of
:mod:`songalign.align.losses` (``audio_to_text_infonce``, ``positive_cosine``); an InfoNCE loss's
logit scale is set by ``alignment.logit_scale`` (``init_temperature``, ``learnable``,
``max_scale``: the names an alignment recipe's ``model.logit_scale`` uses).

BART is ``BartForConditionalGeneration`` from a Hugging Face id (``facebook/bart-base``) or a
local folder, or built from :class:`BartSize` for offline CPU runs (with a tokenizer trained on
the training texts). A saved model folder holds ``bart/`` (Hugging Face format), ``tokenizer/``,
``model.safetensors`` (fusion, alignment head, loss), ``config.json`` and a model card
(:mod:`songalign.checkpoint`, the one model-folder format; BART's own weights live in ``bart/``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field, field_validator, model_validator
from torch import nn

from songalign.align.losses import (
    AlignmentLoss,
    LogitScale,
    LogitScaleSettings,
    loss_with_scale,
    reject_scale_options,
)
from songalign.caption.music import MusicEncoderConfig, describe
from songalign.caption.tokenizer import load_tokenizer, train_tokenizer
from songalign.checkpoint import PretrainedModel
from songalign.errors import SongalignError
from songalign.hub import load_pretrained, quiet_transformers

BART_DIR = "bart"
TOKENIZER_DIR = "tokenizer"
LYRICS_LINE_SEPARATOR = "; "
"""Lyrics lines are joined with this before tokenising (BART-fusion replaces newlines by ';')."""


class BartSize(BaseModel):
    """A BART built from a config (no download): the offline CPU default. ``vocab_size`` bounds the trained tokenizer."""

    d_model: int = Field(128, gt=0)
    encoder_layers: int = Field(3, gt=0)
    decoder_layers: int = Field(3, gt=0)
    attention_heads: int = Field(4, gt=0)
    ffn_dim: int = Field(512, gt=0)
    max_positions: int = Field(512, gt=0)
    dropout: float = Field(0.1, ge=0, lt=1)
    vocab_size: int = Field(2000, gt=300)
    min_frequency: int = Field(2, ge=1, description="merges seen fewer times are not learnt")
    init_std: float | None = Field(None, gt=0, description="weight init std; None = d_model^-1/2, within [0.02, 0.1]")

    def resolved_init_std(self) -> float:
        """BART's 0.02 suits d_model 768; a narrow BART needs larger weights to pass signal through attention.

        Measured here: a 64-wide 2+2-layer BART initialised with 0.02 did not learn to copy 8 random
        tokens in 800 steps (loss flat at the no-copy level), with 0.05 or 0.1 it did within 200.
        """
        return self.init_std if self.init_std is not None else min(0.1, max(0.02, self.d_model**-0.5))


class FusionConfig(BaseModel):
    """Cross-attention fusion of music into the lyrics encoder (see the module docstring)."""

    enabled: bool = True
    layers: list[int] | None = Field(None, description="encoder layers (0-based) followed by fusion; None = last two")
    heads: int = Field(1, gt=0)
    residual_scale: float = 0.1
    forget_gate: bool = False
    shared: bool = True
    dropout: float = Field(0.1, ge=0, lt=1)


class AlignmentConfig(BaseModel):
    """The contrastive alignment before fusion; ``loss=None`` (or ``weight=0``) turns it off."""

    loss: str | None = Field(None, description="audio_to_text_infonce (ALCAP) or positive_cosine (RECAP)")
    options: dict[str, Any] = Field(default_factory=dict, description="the loss's own options")
    logit_scale: LogitScaleSettings | None = Field(
        None,
        description="s of a loss that has one (ALCAP's code: init_temperature 0.3, learnable false); null = CLIP's",
    )
    weight: float = Field(0.02, ge=0, description="α in L = L_cap + α·L_contrast")
    layer: int | None = Field(
        None, description="encoder state index for the text side; None = first fusion layer's input"
    )
    dedupe_songs: bool = True

    @field_validator("options")
    @classmethod
    def _no_scale_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        reject_scale_options(options, "model.alignment.logit_scale")  # the alignment model's scale, as in alignment
        return options

    @property
    def active(self) -> bool:
        return self.loss is not None and self.weight > 0


class CaptionModelConfig(BaseModel):
    """What a captioner is made of. ``bart``: a Hugging Face id or folder, or None to build from ``size``."""

    bart: str | None = None
    tokenizer: str | None = Field(
        None, description="None = the tokenizer of `bart` (trained on the data when bart is None)"
    )
    size: BartSize = Field(default_factory=BartSize)
    music_encoder: MusicEncoderConfig = Field(default_factory=MusicEncoderConfig)
    music_dim: int | None = Field(None, description="d_m of the music sequence; filled from the music encoder")
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    alignment: AlignmentConfig = Field(default_factory=AlignmentConfig)
    max_source_tokens: int = Field(512, gt=2)
    max_target_tokens: int = Field(512, gt=2)

    @model_validator(mode="after")
    def _alignment_needs_music(self) -> CaptionModelConfig:
        if self.alignment.active and not self.fusion.enabled:
            raise ValueError("alignment needs music: set fusion.enabled to true, or alignment.loss to null")
        return self

    @property
    def uses_music(self) -> bool:
        return self.fusion.enabled


class GenerationSettings(BaseModel):
    """Decoding options: beam search by default, sampling with ``do_sample`` (ALCAP: beams 4, top-p 0.92)."""

    num_beams: int = Field(4, gt=0)
    do_sample: bool = False
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, gt=0)
    temperature: float = Field(1.0, gt=0)
    max_length: int = Field(512, gt=1, description="tokens, special tokens included (ALCAP: 512)")
    min_length: int = Field(0, ge=0)
    no_repeat_ngram_size: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0)
    length_penalty: float = 1.0
    batch_size: int = Field(8, gt=0)
    seed: int = Field(0, description="seeds sampling")


class CrossModalFusion(nn.Module):
    """Lyrics states attend to music: ``(B, l_t, d)``, ``(B, l_m, d_m)`` → ``(B, l_t, d)`` (+ weights ``(B, l_t, l_m)``)."""

    def __init__(self, music_dim: int, text_dim: int, config: FusionConfig):
        super().__init__()
        self.query = nn.Linear(text_dim, text_dim)
        self.key = nn.Linear(music_dim, text_dim)
        self.value = nn.Linear(music_dim, text_dim)
        self.attention = nn.MultiheadAttention(text_dim, config.heads, dropout=config.dropout, batch_first=True)
        self.gate = nn.Linear(2 * text_dim, text_dim) if config.forget_gate else None
        self.gate_dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(text_dim)
        self.residual_scale = float(config.residual_scale)

    def forward(
        self, text: torch.Tensor, music: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(
            self.query(text), self.key(music), self.value(music), need_weights=need_weights, average_attn_weights=True
        )
        if self.gate is not None:
            attended = self.gate_dropout(torch.sigmoid(self.gate(torch.cat([attended, text], dim=-1)))) * attended
        return self.norm(text + self.residual_scale * attended), weights


class AlignmentHead(nn.Module):
    """Mean-pool both sequences, then map the wider one linearly to the narrower one's size (ALCAP's ``fc``).

    ``forward(music (B, l_m, d_m), text (B, l_t, d_t), text_mask (B, l_t))`` → ``(z^m, z^t)``, each
    ``(B, min(d_m, d_t))``.
    """

    def __init__(self, music_dim: int, text_dim: int):
        super().__init__()
        self.side = "music" if music_dim > text_dim else "text" if text_dim > music_dim else None
        self.project = nn.Linear(max(music_dim, text_dim), min(music_dim, text_dim)) if self.side else nn.Identity()

    def forward(
        self, music: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = text_mask.to(text.dtype).unsqueeze(-1)
        z_text = (text * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        z_music = music.mean(1)
        if self.side == "music":
            z_music = self.project(z_music)
        elif self.side == "text":
            z_text = self.project(z_text)
        return z_music, z_text


@dataclass
class _EncoderContext:
    """What the encoder-layer hooks read (the music) and write (states, attention maps) during one encoding."""

    music: torch.Tensor | None
    record_attention: bool = False
    embeddings: torch.Tensor | None = None
    outputs: dict[int, torch.Tensor] = field(default_factory=dict)
    attention: dict[int, torch.Tensor] = field(default_factory=dict)


@dataclass
class Encoded:
    """An encoding: ``last_hidden_state (B, l_t, d)``, the alignment text states ``(B, l_t, d)`` (or None),
    and cross-attention maps ``{layer: (B, l_t, l_m)}`` when recorded."""

    last_hidden_state: torch.Tensor
    text_states: torch.Tensor | None
    attention: dict[int, torch.Tensor]


def bart_config(size: BartSize, vocab_size: int) -> Any:
    """A ``transformers.BartConfig`` of ``size`` for a tokenizer of ``vocab_size`` tokens (BART's special-token ids)."""
    from transformers import BartConfig

    return BartConfig(
        vocab_size=vocab_size,
        d_model=size.d_model,
        encoder_layers=size.encoder_layers,
        decoder_layers=size.decoder_layers,
        encoder_attention_heads=size.attention_heads,
        decoder_attention_heads=size.attention_heads,
        encoder_ffn_dim=size.ffn_dim,
        decoder_ffn_dim=size.ffn_dim,
        max_position_embeddings=size.max_positions,
        dropout=size.dropout,
        attention_dropout=size.dropout,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        init_std=size.resolved_init_std(),
    )


def _load_bart(source: str) -> Any:
    from transformers import BartForConditionalGeneration

    return load_pretrained(BartForConditionalGeneration, source, "BART model")


class CaptionModel(PretrainedModel):
    """BART + music fusion + alignment head; see the module docstring.

    Build one with :meth:`build` (from a config, training a tokenizer on ``texts`` when BART is
    built from a size) or :meth:`from_pretrained` (a saved folder, loaded in eval mode);
    :meth:`save_pretrained` ``(path, card=None)`` writes one (the card's ``kind`` defaults to ``"caption"``).
    """

    folder_kind = "caption"
    config_class = CaptionModelConfig
    card_title = "songalign captioner"
    folder_name = "captioner"
    folder_needs = (BART_DIR, TOKENIZER_DIR)
    folder_hint = "train one with `songalign caption train`"
    config_remedy = "train it again with `songalign caption train`"
    config: CaptionModelConfig

    def __init__(self, config: CaptionModelConfig, bart: Any, tokenizer: Any):
        super().__init__()
        self.config = config
        self.bart = bart
        self.tokenizer = tokenizer
        d_model = bart.config.d_model
        n_layers = bart.config.encoder_layers
        self.fusion_layers: list[int] = []
        self.fusion = nn.ModuleList()
        if config.fusion.enabled:
            if config.music_dim is None:
                raise SongalignError("music_dim is not set; build the model through songalign.caption.train")
            layers = (
                config.fusion.layers
                if config.fusion.layers is not None
                else list(range(max(0, n_layers - 2), n_layers))
            )
            bad = [i for i in layers if not 0 <= i < n_layers]
            if bad or not layers:
                raise SongalignError(
                    f"fusion.layers {layers} must name encoder layers 0…{n_layers - 1} (this BART has {n_layers}); fix the recipe"
                )
            self.fusion_layers = sorted(set(layers))
            count = 1 if config.fusion.shared else len(self.fusion_layers)
            self.fusion.extend(CrossModalFusion(config.music_dim, d_model, config.fusion) for _ in range(count))
        self.alignment_head: AlignmentHead | None = None
        self.alignment_loss: AlignmentLoss | None = None
        self.alignment_scale: LogitScale | None = None  # the InfoNCE losses' s (alignment.logit_scale)
        if config.alignment.active:
            layer = self.alignment_layer
            if not 0 <= layer <= n_layers:
                raise SongalignError(f"alignment.layer {layer} must be in 0…{n_layers}; fix the recipe")
            self.alignment_head = AlignmentHead(config.music_dim, d_model)
            self.alignment_loss, self.alignment_scale = loss_with_scale(
                config.alignment.loss,
                config.alignment.options,
                config.alignment.logit_scale,
                scale_at="model.alignment.logit_scale",
            )
        self._context: _EncoderContext | None = None
        encoder = self.bart.get_encoder()
        encoder.layers[0].register_forward_pre_hook(self._embeddings_hook, with_kwargs=True)
        for index, layer in enumerate(encoder.layers):
            layer.register_forward_hook(self._layer_hook(index))

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def build(cls, config: CaptionModelConfig, texts: Sequence[str] = ()) -> CaptionModel:
        """A new model: BART from ``config.bart`` (id or folder) or built from ``config.size``.

        A BART built from a size gets a tokenizer trained on ``texts`` (unless ``config.tokenizer``
        names one); a loaded BART uses its own tokenizer (or ``config.tokenizer``).
        """
        from transformers import BartForConditionalGeneration

        if config.bart is not None:
            bart = _load_bart(config.bart)
            tokenizer = load_tokenizer(config.tokenizer or config.bart)
        else:
            tokenizer = (
                load_tokenizer(config.tokenizer)
                if config.tokenizer
                else train_tokenizer(texts, config.size.vocab_size, config.size.min_frequency)
            )
            bart = BartForConditionalGeneration(bart_config(config.size, len(tokenizer)))
        if len(tokenizer) > bart.config.vocab_size:
            bart.resize_token_embeddings(len(tokenizer))
        return cls(config, bart, tokenizer)

    # -- the model folder (songalign.checkpoint.PretrainedModel): BART and the tokenizer in their own sub-folders
    @classmethod
    def _from_saved_config(cls, directory: Path, config: CaptionModelConfig) -> CaptionModel:
        """The captioner with the folder's BART and tokenizer, in eval mode (``from_pretrained(path)``: no options)."""
        return cls(config, _load_bart(str(directory / BART_DIR)), load_tokenizer(directory / TOKENIZER_DIR)).eval()

    def _stored_elsewhere(self, config: CaptionModelConfig) -> tuple[str, ...]:
        return ("bart.",)  # BART lives in bart/

    def _save_parts(self, directory: Path) -> None:
        with quiet_transformers():
            self.bart.save_pretrained(directory / BART_DIR)
        self.tokenizer.save_pretrained(directory / TOKENIZER_DIR)

    def architecture(self) -> list[str]:
        """The model card's architecture bullets: BART, music encoder, fusion, alignment."""
        config = self.config
        bart = self.bart.config
        alignment = config.alignment
        music = json.dumps(describe(config.music_encoder))
        fusion = "none (lyrics only)"
        if self.fusion_layers:
            fusion = (
                f"after encoder layers {self.fusion_layers}, {config.fusion.heads} head(s), residual "
                f"×{config.fusion.residual_scale}, forget gate {'on' if config.fusion.forget_gate else 'off'}"
            )
        return [
            f"BART: `{config.bart or 'built from config'}` — d_model {bart.d_model}, {bart.encoder_layers}+"
            f"{bart.decoder_layers} layers, vocabulary {bart.vocab_size}",
            f"music encoder (frozen, precomputed): {music}, d_m = {config.music_dim}",
            f"fusion: {fusion}",
            f"alignment: {alignment.loss} with α = {alignment.weight} at encoder state {self.alignment_layer}"
            + (f", logit scale s = {float(self.alignment_scale().detach()):.4g}" if self.alignment_scale else "")
            if alignment.active
            else "alignment: none",
        ]

    # -- hooks ----------------------------------------------------------------------------------------
    def _embeddings_hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._context is not None:
            self._context.embeddings = args[0] if args else kwargs.get("hidden_states")

    def _layer_hook(self, index: int):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            context = self._context
            if index not in self.fusion_layers:
                if context is not None:
                    context.outputs[index] = output[0] if isinstance(output, tuple) else output
                return None
            if context is None or context.music is None:
                raise RuntimeError(
                    "this BART fuses music in its encoder: encode through CaptionModel.encode / generate, not bart directly"
                )
            hidden = output[0] if isinstance(output, tuple) else output
            fusion = self.fusion[0 if self.config.fusion.shared else self.fusion_layers.index(index)]
            fused, weights = fusion(hidden, context.music.to(hidden.dtype), need_weights=context.record_attention)
            context.outputs[index] = fused
            if weights is not None:
                context.attention[index] = weights.detach()
            return (fused, *output[1:]) if isinstance(output, tuple) else fused

        return hook

    @contextmanager
    def _encoding(self, music: torch.Tensor | None, record_attention: bool) -> Iterator[_EncoderContext]:
        self._context = _EncoderContext(music, record_attention)
        try:
            yield self._context
        finally:
            self._context = None

    # -- encoding, losses, generation -------------------------------------------------------------------
    @property
    def alignment_layer(self) -> int:
        """Index of the encoder state aligned with the music: 0 = embeddings, ``i`` = output of layer ``i − 1``."""
        if self.config.alignment.layer is not None:
            return self.config.alignment.layer
        return self.fusion_layers[0] if self.fusion_layers else self.bart.config.encoder_layers

    @property
    def device(self) -> torch.device:
        return next(self.bart.parameters()).device

    def encode(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        music: torch.Tensor | None = None,
        record_attention: bool = False,
    ) -> Encoded:
        """Run the encoder with fusion: ids ``(B, l_t)``, mask ``(B, l_t)``, music ``(B, l_m, d_m)``."""
        if self.config.uses_music and music is None:
            raise SongalignError("this captioner fuses music: give the music features of each song")
        with self._encoding(music if self.config.uses_music else None, record_attention) as context:
            output = self.bart.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
            text_states = None
            if self.alignment_head is not None:
                layer = self.alignment_layer
                text_states = context.embeddings if layer == 0 else context.outputs[layer - 1]
        return Encoded(output.last_hidden_state, text_states, dict(context.attention))

    def losses(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor,
        music: torch.Tensor | None = None,
        song_index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """``{"loss", "caption", "contrast"}`` for a batch; ``labels (B, l_y)`` use −100 for padding."""
        from transformers.modeling_outputs import BaseModelOutput

        encoded = self.encode(input_ids, attention_mask, music)
        output = self.bart(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoded.last_hidden_state),
            attention_mask=attention_mask,
            labels=labels,
        )
        caption = output.loss
        contrast = torch.zeros((), device=caption.device)
        if self.alignment_head is not None and music is not None:
            keep = torch.arange(len(input_ids), device=input_ids.device)
            if self.config.alignment.dedupe_songs and song_index is not None:
                first: dict[int, int] = {}
                for row, song in enumerate(song_index.tolist()):
                    first.setdefault(song, row)
                keep = torch.tensor(sorted(first.values()), device=input_ids.device)
            z_music, z_text = self.alignment_head(music[keep], encoded.text_states[keep], attention_mask[keep])
            scale = self.alignment_scale() if self.alignment_scale is not None else None
            contrast = self.alignment_loss(z_music, z_text, scale=scale)
        weight = self.config.alignment.weight if self.alignment_head is not None else 0.0
        return {"loss": caption + weight * contrast, "caption": caption.detach(), "contrast": contrast.detach()}

    def tokenize_lyrics(self, lyrics: Sequence[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` ``(B, l_t)`` of lyrics (lines joined by '; ', truncated)."""
        texts = [LYRICS_LINE_SEPARATOR.join(line.strip() for line in t.splitlines() if line.strip()) for t in lyrics]
        limit = min(self.config.max_source_tokens, self.bart.config.max_position_embeddings)
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def tokenize_targets(self, texts: Sequence[str]) -> torch.Tensor:
        """Labels ``(B, l_y)``: the interpretations' token ids, −100 where padded."""
        limit = min(self.config.max_target_tokens, self.bart.config.max_position_embeddings)
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
        return batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    @torch.no_grad()
    def generate(
        self,
        lyrics: Sequence[str],
        music: torch.Tensor | None = None,
        settings: GenerationSettings | None = None,
    ) -> list[str]:
        """Captions of songs: ``lyrics`` strings and their music ``(B, l_m, d_m)`` (None for a lyrics-only model)."""
        from transformers.modeling_outputs import BaseModelOutput

        settings = settings or GenerationSettings()
        was_training = self.training
        self.eval()
        captions: list[str] = []
        config = copy.deepcopy(self.bart.generation_config)
        config.update(
            num_beams=settings.num_beams,
            do_sample=settings.do_sample,
            top_p=settings.top_p if settings.do_sample else None,
            top_k=settings.top_k if settings.do_sample else None,
            temperature=settings.temperature if settings.do_sample else None,
            max_length=min(settings.max_length, self.bart.config.max_position_embeddings),
            min_length=settings.min_length,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
            repetition_penalty=settings.repetition_penalty,
            length_penalty=settings.length_penalty,
            early_stopping=True if settings.num_beams > 1 else False,
            num_return_sequences=1,
        )
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(settings.seed)
        try:
            for start in range(0, len(lyrics), settings.batch_size):
                batch = self.tokenize_lyrics(lyrics[start : start + settings.batch_size])
                ids, mask = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
                chunk = None if music is None else music[start : start + settings.batch_size].to(self.device)
                encoded = self.encode(ids, mask, chunk)
                output = self.bart.generate(
                    encoder_outputs=BaseModelOutput(last_hidden_state=encoded.last_hidden_state),
                    attention_mask=mask,
                    generation_config=config,
                )
                captions.extend(t.strip() for t in self.tokenizer.batch_decode(output, skip_special_tokens=True))
        finally:
            torch.random.set_rng_state(generator_state)
            self.train(was_training)
        return captions

    @torch.no_grad()
    def attention_maps(self, lyrics: Sequence[str], music: torch.Tensor) -> list[dict[str, Any]]:
        """Cross-attention of each song's lyrics tokens over its music frames, per fusion layer.

        Returns one dict per song: ``tokens`` (the lyrics tokens, special ones included) and
        ``weights`` ``{layer: (l_t, l_m) numpy array}`` (rows sum to 1; heads averaged).
        """
        was_training = self.training
        self.eval()
        batch = self.tokenize_lyrics(lyrics)
        encoded = self.encode(batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device),
                              music.to(self.device), record_attention=True)  # fmt: skip
        self.train(was_training)
        maps = []
        for row, ids in enumerate(batch["input_ids"]):
            length = int(batch["attention_mask"][row].sum())
            tokens = [self.tokenizer.convert_tokens_to_string([t]).strip() or t
                      for t in self.tokenizer.convert_ids_to_tokens(ids[:length].tolist())]  # fmt: skip
            weights = {layer: w[row, :length].cpu().numpy() for layer, w in encoded.attention.items()}
            maps.append({"tokens": tokens, "weights": weights})
        return maps

