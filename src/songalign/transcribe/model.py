"""The transcriber: the seed's two CRNNs as one model, its four training modes, and its model folder.

``TranscriberConfig.mode`` names the seed's four trained models:

==============  =========================================================================================
``multitask``   PitchOnsetCRNN + LyricsCRNN trained jointly; the lyrics network reads the pitch/onset
                network's probabilities (the paper's proposed model)
``baseline``    LyricsCRNN alone, reading zero pitch/onset probabilities (the paper's Table 1 baseline)
``oracle``      LyricsCRNN alone, reading the annotated pitch (one-hot) and onsets (the paper's oracle;
                it needs annotated notes at inference too)
``pitch``       PitchOnsetCRNN alone (the paper's Table 2 baseline for notes)
==============  =========================================================================================

:meth:`Transcriber.emissions` runs a whole song of any length: windows of ``clip_frames`` with
``overlap_frames`` shared on each side, each frame kept from the window in which it lies furthest
from an edge (deterministic, no random crops). Saved as one model folder (:mod:`songalign.checkpoint`):
``Transcriber.save_pretrained(path, card)`` / ``Transcriber.from_pretrained(path)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from songalign.checkpoint import PretrainedModel
from songalign.corpus.records import Note
from songalign.errors import SongalignError
from songalign.transcribe.data import (
    EMISSION_SECONDS,
    FRAME_SECONDS,
    SAMPLE_RATE,
    SILENCE,
    VocalSource,
    features,
    pitch_onset_targets,
)
from songalign.transcribe.networks import NO_PITCH, PITCH_CLASSES, NetworkConfig, output_frames

Mode = Literal["multitask", "baseline", "oracle", "pitch"]


class TranscriberConfig(BaseModel):
    """What a transcriber is: its mode, its networks' sizes and what its input channels hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "multitask"
    network: NetworkConfig = NetworkConfig()
    vocals: VocalSource = Field(
        "stem",
        description="the vocal channel: 'stem' (the corpus's), 'mix' (a copy), 'spleeter' (separated from the song; "
        "'spleeter:FOLDER' for other weights), 'open-unmix:FOLDER' or another registered separator 'NAME:MODEL'",
    )
    channel_order: Literal["mix_first", "vocals_first"] = Field(
        "mix_first", description="the paper's [mix, vocals] or the authors' code's [vocals, mix]"
    )
    clip_frames: int = Field(
        1000, ge=64, description="frames per inference window (1000 = 16 s), whatever the training clips' length"
    )
    overlap_frames: int = Field(100, ge=0, description="frames each window shares with its neighbour on each side")

    @model_validator(mode="after")
    def _window(self) -> TranscriberConfig:
        if self.clip_frames - 2 * self.overlap_frames < 2:
            raise ValueError("clip_frames must exceed twice overlap_frames by 2 or more (windows must move on)")
        return self

    @property
    def hears_lyrics(self) -> bool:
        return self.mode != "pitch"

    @property
    def hears_pitch(self) -> bool:
        return self.mode in ("multitask", "pitch")


@dataclass
class Emissions:
    """What a transcriber hears in one song.

    ``log_probs`` ``(T2, V)`` CTC log-probabilities at ``emission_seconds`` (``None`` for a pitch-only
    model); ``pitch`` ``(T, 129)`` probabilities and ``onset`` ``(T,)`` probabilities at
    ``frame_seconds`` (``None`` for a model without a pitch network).
    """

    log_probs: np.ndarray | None
    pitch: np.ndarray | None
    onset: np.ndarray | None
    frame_seconds: float = FRAME_SECONDS
    emission_seconds: float = EMISSION_SECONDS


@dataclass
class Outputs:
    """One forward pass: ``lyrics`` ``(B, T2, V)`` logits (or None), ``pitch`` ``(B, T, 129)`` and ``onset``
    ``(B, T)`` logits (or None)."""

    lyrics: torch.Tensor | None
    pitch: torch.Tensor | None
    onset: torch.Tensor | None


def oracle_conditioning(pitch: torch.Tensor, onset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Annotated targets as the lyrics network's inputs: ``pitch`` ``(B, T)`` classes → one-hot ``(B, T, 129)``."""
    return torch.nn.functional.one_hot(pitch, PITCH_CLASSES).float(), onset.float()


class Transcriber(PretrainedModel):
    """PitchOnsetCRNN and/or LyricsCRNN, as ``config.mode`` says (see the module docstring).

    ``Transcriber.from_pretrained(path, device="cpu")`` loads a model folder in eval mode;
    ``transcriber.save_pretrained(path, card)`` writes one (the card's ``kind`` defaults to ``"transcribe"``;
    the trainer adds the decoder's ``lm.arpa`` beside it, built from the training lyrics).
    """

    folder_kind = "transcribe"
    config_class = TranscriberConfig
    card_title = "songalign transcriber"
    folder_name = "transcriber"
    folder_hint = "train one with `songalign transcribe train`"
    config_remedy = "train a transcriber with `songalign transcribe train`"
    config: TranscriberConfig

    def __init__(self, config: TranscriberConfig | None = None) -> None:
        super().__init__()
        self.config = config or TranscriberConfig()
        from songalign.transcribe import NETWORKS

        network = self.config.network
        given = {"config": network}
        # The lyrics network is built first, so that every mode starts it from the same random weights for a
        # seed: the baseline, multi-task and oracle models then differ only in what they are given.
        self.lyrics_net = NETWORKS.build(network.lyrics_network, given) if self.config.hears_lyrics else None
        self.pitch_net = NETWORKS.build(network.pitch_network, given) if self.config.hears_pitch else None

    def forward(
        self, mel: torch.Tensor, pitch_targets: torch.Tensor | None = None, onset_targets: torch.Tensor | None = None
    ) -> Outputs:
        """``mel`` ``(B, C, 80, T)``; the oracle mode also needs the annotated ``pitch_targets`` ``(B, T)``
        (classes, 128 = no pitch) and ``onset_targets`` ``(B, T)``."""
        pitch_logits = onset_logits = None
        if self.pitch_net is not None:
            pitch_logits, onset_logits = self.pitch_net(mel)
        if self.lyrics_net is None:
            return Outputs(None, pitch_logits, onset_logits)
        batch, frames = mel.shape[0], mel.shape[-1]
        if self.config.mode == "multitask":
            pitch_in, onset_in = pitch_logits.softmax(-1), torch.sigmoid(onset_logits)
            if self.config.network.detach_conditioning:
                pitch_in, onset_in = pitch_in.detach(), onset_in.detach()
        elif self.config.mode == "oracle":
            if pitch_targets is None or onset_targets is None:
                raise SongalignError("an oracle transcriber needs the annotated notes of what it transcribes")
            pitch_in, onset_in = oracle_conditioning(pitch_targets, onset_targets)
        else:  # the baseline hears zero probabilities
            pitch_in, onset_in = mel.new_zeros(batch, frames, PITCH_CLASSES), mel.new_zeros(batch, frames)
        return Outputs(self.lyrics_net(mel, pitch_in, onset_in), pitch_logits, onset_logits)

    # -- whole songs -------------------------------------------------------------------------------------

    def _window_starts(self, frames: int) -> list[int]:
        """Window starts, all even (so the half-rate emissions stay on one grid): every ``stride`` frames, and a
        last window that ends at the song's end (one frame past it when that end is odd), never one mostly padding."""
        width = self.config.clip_frames
        if frames <= width:
            return [0]
        stride = width - 2 * self.config.overlap_frames
        stride -= stride % 2
        starts = list(range(0, frames - width + 1, stride))
        last = (frames - width) + (frames - width) % 2
        if starts[-1] < last:
            starts.append(last)
        return starts

    @torch.no_grad()
    def emissions_from_features(self, mel: torch.Tensor, notes: list[Note] | None = None, batch: int = 8) -> Emissions:
        """:class:`Emissions` of one song's features ``mel`` ``(C, 80, T)`` (see the module docstring)."""
        was_training = self.training
        self.eval()
        frames = int(mel.shape[-1])
        pitch_targets = onset_targets = None
        if self.config.mode == "oracle":
            if notes is None:
                raise SongalignError("an oracle transcriber needs the annotated notes of the song it transcribes")
            pitch, onset = pitch_onset_targets(notes, frames)
            pitch_targets, onset_targets = torch.from_numpy(pitch), torch.from_numpy(onset)
        starts = self._window_starts(frames)
        width = min(self.config.clip_frames, frames)
        device = next(self.parameters()).device
        lyrics = None
        pitch_out = np.zeros((frames, PITCH_CLASSES), np.float32) if self.pitch_net is not None else None
        onset_out = np.zeros(frames, np.float32) if self.pitch_net is not None else None
        for first in range(0, len(starts), batch):
            chunk = starts[first : first + batch]
            windows = [self._padded(mel, s, width) for s in chunk]
            inputs = torch.stack(windows).to(device)
            extra = {}
            if pitch_targets is not None:
                extra = {
                    "pitch_targets": torch.stack([self._padded(pitch_targets, s, width, NO_PITCH) for s in chunk]),
                    "onset_targets": torch.stack([self._padded(onset_targets, s, width, 0.0) for s in chunk]),
                }
                extra = {k: v.to(device) for k, v in extra.items()}
            out = self(inputs, **extra)
            for row, start in enumerate(chunk):
                lo, hi = self._kept(start, starts, frames)
                if out.lyrics is not None:
                    if lyrics is None:
                        lyrics = np.zeros((output_frames(frames), out.lyrics.shape[-1]), np.float32)
                    values = out.lyrics[row].log_softmax(-1).float().cpu().numpy()
                    lyrics[lo // 2 : output_frames(hi)] = values[lo // 2 - start // 2 : output_frames(hi) - start // 2]
                if out.pitch is not None:
                    pitch_out[lo:hi] = out.pitch[row, lo - start : hi - start].softmax(-1).float().cpu().numpy()
                    onset_out[lo:hi] = torch.sigmoid(out.onset[row, lo - start : hi - start]).float().cpu().numpy()
        self.train(was_training)
        return Emissions(lyrics, pitch_out, onset_out)

    def _kept(self, start: int, starts: list[int], frames: int) -> tuple[int, int]:
        """The frames ``[lo, hi)`` kept from the window at ``start``: halfway into each neighbour's overlap."""
        index = starts.index(start)
        lo = 0 if index == 0 else (start + starts[index - 1] + self.config.clip_frames) // 2
        hi = frames if index == len(starts) - 1 else (starts[index + 1] + start + self.config.clip_frames) // 2
        lo -= lo % 2
        hi = hi - hi % 2 if hi < frames else hi
        return lo, hi

    @staticmethod
    def _padded(values: torch.Tensor, start: int, width: int, fill: float | None = None) -> torch.Tensor:
        """``values[..., start : start + width]``, padded at the end (features at the silence value, else ``fill``)."""
        window = values[..., start : start + width]
        missing = width - window.shape[-1]
        if missing <= 0:
            return window
        pad = torch.full((*window.shape[:-1], missing), SILENCE if fill is None else fill, dtype=window.dtype)
        return torch.cat([window, pad], dim=-1)

    def emissions(
        self, mix: np.ndarray, vocals: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE, notes=None
    ) -> Emissions:
        """:class:`Emissions` of a song: ``mix`` and ``vocals`` mono float arrays at ``sample_rate`` Hz
        (``vocals=None`` copies the mix); ``notes`` only for an oracle model."""
        if sample_rate != SAMPLE_RATE:
            import soxr

            mix = soxr.resample(mix, sample_rate, SAMPLE_RATE).astype(np.float32)
            vocals = None if vocals is None else soxr.resample(vocals, sample_rate, SAMPLE_RATE).astype(np.float32)
        return self.emissions_from_features(features(mix, vocals, self.config.channel_order), notes)

    # -- model folder (songalign.checkpoint.PretrainedModel) -------------------------------------------

    @classmethod
    def _from_saved_config(
        cls, directory: Path, config: TranscriberConfig, device: str | torch.device = "cpu"
    ) -> Transcriber:
        """The saved transcriber on ``device``, in eval mode: ``from_pretrained(path, device="cpu")``."""
        return cls(config).to(device).eval()

    def architecture(self) -> list[str]:
        """The model card's architecture bullets: the networks of the mode, the vocal channel, the channel order."""
        parts = {
            "multitask": ["PitchOnsetCRNN", "LyricsCRNN reading its probabilities"],
            "baseline": ["LyricsCRNN reading zero pitch/onset probabilities"],
            "oracle": ["LyricsCRNN reading annotated pitch/onset"],
            "pitch": ["PitchOnsetCRNN"],
        }[self.config.mode]
        return [*parts, f"vocal channel: {self.config.vocals}", f"channels: {self.config.channel_order}"]
