"""Make ``musicnn_reference.npz``: the original musicnn's outputs on fixed clips, under TensorFlow.

The reference values for ``test_musicnn_port.py`` come from musicnn's own code (``musicnn.extractor``'s
preprocessing ``batch_data`` and ``musicnn.models.define_model`` restored from the wheel's
checkpoints with ``tf.compat.v1.train.Saver``), run once in an environment of their own, never
songalign's (TensorFlow stays out of it)::

    python3 -m venv /tmp/musicnn-tf
    /tmp/musicnn-tf/bin/pip install tensorflow-cpu tf_keras librosa soundfile
    /tmp/musicnn-tf/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/musicnn-tf/bin/python tests/towers/make_musicnn_reference.py

(made with tensorflow-cpu 2.21.0, tf_keras 2.21.0, librosa 0.11.0, numpy 2.4.6, musicnn 0.1.0).
``fixed_clips`` is imported by the test too, so both sides hear the same samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
OVERLAP_SECONDS = 1.0
"""The clip heard with overlapping patches as well, musicnn's ``input_overlap`` in seconds."""
MEL_PROBES = 2000
"""How many (frame, band) values of each clip's log-mel the fixture keeps (at seeded positions)."""
SEQUENCE_STRIDE = 6
"""Every how many frames the fixture keeps the mid-end sequence (``cnn3``) of each patch."""


def fixed_clips() -> dict[str, np.ndarray]:
    """Three mono float32 clips at 16 kHz, made from formulas and one seeded generator.

    ``chord``: 7 s of a decaying A-minor triad with harmonics (peak 0.2); ``drums``: 6.5 s of noise
    bursts at 120 BPM over a bass tone (peak 0.3); ``sweep``: 4 s of a rising chirp in noise (peak 0.1).
    """
    rate = SAMPLE_RATE
    rng = np.random.default_rng(20260101)
    t = np.arange(int(7.0 * rate)) / rate
    chord = sum((0.3 / h) * np.sin(2 * np.pi * f * h * t) for f in (220.0, 261.63, 329.63) for h in (1, 2, 3)) * np.exp(
        -0.3 * (t % 1.75)
    )
    t = np.arange(int(6.5 * rate)) / rate
    bursts = rng.standard_normal(t.size) * np.exp(-30.0 * (t % 0.5))
    drums = 0.4 * bursts + 0.3 * np.sin(2 * np.pi * 55.0 * t)
    t = np.arange(int(4.0 * rate)) / rate
    sweep = 0.5 * np.sin(2 * np.pi * (200.0 * t + 600.0 * t**2)) + 0.05 * rng.standard_normal(t.size)
    # peaks chosen so that no mel value exceeds 6.55: musicnn's float16 10000·mel overflows above it
    # (the original then gives inf inputs and meaningless tags; songalign's port saturates instead)
    clips = {"chord": (chord, 0.2), "drums": (drums, 0.3), "sweep": (sweep, 0.1)}
    return {name: (peak * clip / np.abs(clip).max()).astype(np.float32) for name, (clip, peak) in clips.items()}


def mel_probe_positions(frames: int, bands: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (frame, band) positions at which the fixture keeps a clip's log-mel values."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, frames, MEL_PROBES), rng.integers(0, bands, MEL_PROBES)


def main(out: Path) -> None:  # pragma: no cover - runs under TensorFlow, outside songalign's environment
    import tempfile

    import librosa
    import soundfile as sf
    import tensorflow as tf
    from musicnn import configuration, models
    from musicnn.extractor import batch_data

    tf.compat.v1.disable_eager_execution()
    n_frames = librosa.time_to_frames(3, sr=SAMPLE_RATE, n_fft=configuration.FFT_SIZE, hop_length=configuration.FFT_HOP)
    n_frames = int(n_frames) + 1
    overlap = int(librosa.time_to_frames(OVERLAP_SECONDS, sr=SAMPLE_RATE, n_fft=512, hop_length=256))
    checkpoints = Path(models.__file__).parent
    arrays: dict[str, np.ndarray] = {"n_frames": np.array(n_frames), "overlap_frames": np.array(overlap)}
    batches = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, clip) in enumerate(fixed_clips().items()):
            path = Path(folder) / f"{name}.wav"
            sf.write(path, clip, SAMPLE_RATE, subtype="FLOAT")
            batch, spectrogram = batch_data(str(path), n_frames, n_frames)
            frames, bands = mel_probe_positions(*spectrogram.shape, seed=index)
            arrays[f"{name}/samples_sum"] = np.array(float(np.sum(clip, dtype=np.float64)))
            arrays[f"{name}/mel_shape"] = np.array(spectrogram.shape)
            arrays[f"{name}/mel_probes"] = spectrogram[frames, bands].astype(np.float32)
            batches[name] = batch
            if name == "chord":
                batches["chord_overlap"], _ = batch_data(str(path), n_frames, overlap)
    for model_name in ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"):
        labels = configuration.MTT_LABELS if model_name.startswith("MTT") else configuration.MSD_LABELS
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, configuration.N_MELS])
            outputs = models.define_model(x, False, model_name, len(labels))
        if "vgg" in model_name:
            wanted = {"taggram": tf.nn.sigmoid(outputs[0]), "pool5": tf.compat.v1.layers.flatten(outputs[5])}
        else:
            logits, _, _, _, _, cnn3, mean_pool, max_pool, penultimate = outputs
            wanted = {
                "taggram": tf.nn.sigmoid(logits),
                "penultimate": penultimate,
                "mean_pool": mean_pool,
                "max_pool": max_pool,
                "cnn3": tf.squeeze(cnn3, [3])[:, ::SEQUENCE_STRIDE, :],
            }
        with tf.compat.v1.Session() as session:
            tf.compat.v1.train.Saver().restore(session, str(checkpoints / model_name) + "/")
            for clip_name, batch in batches.items():
                if clip_name == "chord_overlap" and model_name != "MSD_musicnn":
                    continue
                values = session.run(wanted, feed_dict={x: batch})
                for key, value in values.items():
                    arrays[f"{model_name}/{clip_name}/{key}"] = np.asarray(value, np.float32)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {len(arrays)} arrays, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("musicnn_reference.npz"))
