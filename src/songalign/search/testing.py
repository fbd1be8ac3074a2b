"""Helpers for tests and examples of song search: a small corpus whose songs sound different, a
tiny model that tells them apart, and the real uvicorn server on a loopback port.

Nothing is downloaded: audio is synthesised, the audio tower is a small randomly initialised CNN
(its batch-norm statistics computed on the corpus, its projections orthogonal so that distinct
inputs stay distinct) and the text tower is the bundled all-MiniLM-L6-v2.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf
import torch

from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.audio.io import load_audio
from songalign.audio.windows import segment_window
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus

SEARCH_SONGS = [
    # (title, artist, language, emotion of verse 1, emotion of verse 2, words)
    ("Golden Hour", "The Brights", "English", "joy", "joy", "sunshine dancing golden morning"),
    ("Empty Rooms", "Grey Harbour", "English", "sadness", "sadness", "tears falling lonely night"),
    ("Wildfire", "Red Static", "English", "anger", "fear", "burning rage broken glass"),
    ("Slow River", "Quiet Hands", "English", "calm", "love", "river drifting gentle sleep"),
    ("Soleil d'été", "Les Rayons", "French", "joy", "love", "soleil danse lumière été"),
    ("Pluie & Nuit", "Brume", "French", "sadness", "fear", "pluie triste nuit froide"),
]
SAMPLE_RATE = 22050


def song_signal(index: int, duration: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A stereo test signal ``(samples, 2)`` that differs clearly between songs: pitch, noise and pulse rate."""
    t = np.arange(int(round(duration * sample_rate))) / sample_rate
    rng = np.random.default_rng(100 + index)
    pitch = 150.0 * 2 ** (0.8 * index)
    pulse = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * (1.0 + index) * t))
    left = 0.3 * np.sin(2 * np.pi * pitch * t) * pulse + 0.03 * (index + 1) * rng.standard_normal(t.shape)
    right = 0.8 * left + 0.05 * np.sin(2 * np.pi * 2 * pitch * t)
    return np.clip(np.stack([left, right], axis=1), -1, 1).astype(np.float32)


def write_search_corpus(root: str | Path) -> Path:
    """Write and prepare a 6-song, 12-segment corpus under ``root``; returns the prepared folder.

    Songs differ in sound (:func:`song_signal`, stereo WAV at 22.05 kHz), lyrics, title, artist
    (names with apostrophes and ``&``) and language (4 English, 2 French). Each song has two
    segments (verses, 1–9.1 s and 15–23.1 s) with a description and an ``emotion`` label.
    """
    root = Path(root)
    fakes = []
    for i, (title, artist, language, _, _, words) in enumerate(SEARCH_SONGS):
        verses = [regular_lines(3, start=1.0 + 14 * v, length=2.5, gap=0.3, text=f"{words} verse{v}") for v in range(2)]
        fakes.append(FakeSong(f"song{i}", verses, duration=30.0, language=language, artist=artist, title=title))
    write_jamendo_corpus(root / "raw", fakes, audio_format="wav")
    for i, fake in enumerate(fakes):
        sf.write(str(root / "raw" / "mp3" / f"{fake.name}.wav"), song_signal(i, fake.duration), SAMPLE_RATE)
    prepared = root / "corpus"
    prepare_corpus("jamendo", root / "raw", prepared, progress=False)
    manifest = CorpusManifest.load(prepared)
    for segment in manifest.segments:
        index = int(segment.song_id.removeprefix("song"))
        verse = 0 if segment.start < 14 else 1
        emotion = SEARCH_SONGS[index][3 + verse]
        segment.description = f"The lines feel full of {emotion}, verse {verse + 1} of {SEARCH_SONGS[index][0]}."
        segment.labels = {"emotion": emotion, "valence": 0.5 if emotion in ("joy", "love", "calm") else -0.5}
    manifest.save_segments(prepared)
    return prepared


def write_song_folder(
    folder: str | Path,
    audio_only: dict[str, float],
    with_lyrics: dict[str, float] | None = None,
    first_signal: int = 0,
) -> Path:
    """Write a folder for the folder reader: songs without lyrics and, optionally, songs with an ``.lrc``.

    ``audio_only`` and ``with_lyrics`` map a file stem (``Artist - Title``) to its length in
    seconds. Each song gets its own :func:`song_signal` (signals ``first_signal``, ``first_signal +
    1``, ... in order, audio-only songs first); audio-only songs alternate WAV and FLAC, songs with
    lyrics are WAV with one line every 2 s from 1 s (``<words> line <n>``, in English) up to 2 s
    before their end. Returns ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, (stem, seconds) in enumerate(audio_only.items()):
        suffix = ".wav" if index % 2 == 0 else ".flac"
        sf.write(str(folder / f"{stem}{suffix}"), song_signal(first_signal + index, seconds), SAMPLE_RATE)
    for offset, (stem, seconds) in enumerate((with_lyrics or {}).items()):
        index = first_signal + len(audio_only) + offset
        sf.write(str(folder / f"{stem}.wav"), song_signal(index, seconds), SAMPLE_RATE)
        words = SEARCH_SONGS[index % len(SEARCH_SONGS)][5]
        times = np.arange(1.0, seconds - 2.0, 2.0)
        lrc = "[la:english]\n" + "".join(
            f"[{int(t // 60):02d}:{t % 60:05.2f}]{words} line {n}\n" for n, t in enumerate(times)
        )
        (folder / f"{stem}.lrc").write_text(lrc, encoding="utf-8")
    return folder


def tiny_search_model(corpus: str | Path, out: str | Path, seed: int = 0) -> tuple[Path, AlignModel]:
    """A tiny untrained model (16-d space, 4 s clips) calibrated on ``corpus``; saved to ``out``.

    Batch-norm statistics are computed over the corpus segments' windows and the projection
    layers are orthogonal, so that different sounds and texts get clearly different vectors.
    """
    torch.manual_seed(seed)
    model = AlignModel(
        ModelConfig(
            audio_tower=TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32}),
            embedding_dim=16,
            clip_seconds=4.0,
        )
    )
    for projection in (model.audio_projection, model.text_projection):
        for layer in projection.modules():
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.orthogonal_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
    rate = model.audio_tower.sample_rate
    features = []
    for segment in CorpusManifest.load(corpus).segments:
        offset, duration = segment_window(segment.start, segment.end, model.config.clip_seconds)
        features.append(model.audio_features(load_audio(segment.audio_path, rate, offset, duration)[0]))
    for layer in model.audio_tower.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.reset_running_stats()
            layer.momentum = None  # a cumulative average over the one calibration batch
    model.train()
    with torch.no_grad():
        model.audio_tower(torch.stack(features))
    model.eval()
    folder = model.save_pretrained(out, card={"name": "tiny-search"})
    return folder, model


def indexed_window(search, segment_id: str, mono: bool = True) -> tuple[np.ndarray, int]:
    """``(audio, rate)`` of the window the index embedded for ``segment_id`` (its centred ``clip_seconds``),
    at the file's own rate; ``(samples,)`` when ``mono``, else ``(channels, samples)``."""
    hit = search.segment(segment_id)
    offset, duration = segment_window(hit.start, hit.end, search.model.config.clip_seconds)
    return load_audio(hit.audio_path, offset=offset, duration=duration, mono=mono)


def index_until_killed(model_folder: str, corpus: str, db: str, kill_after_rows: int, batch_size: int = 4) -> None:
    """Index ``corpus`` into ``db`` in this process and SIGKILL it once ``kill_after_rows`` rows are committed:
    no clean-up, no ``finally`` blocks, as ``kill -9`` from outside. Run it in a child process."""
    import os
    import signal

    from songalign.search.indexer import build_index

    def die(added: int) -> None:
        if added >= kill_after_rows:
            os.kill(os.getpid(), signal.SIGKILL)

    torch.set_num_threads(1)
    build_index(model_folder, corpus, db, batch_size=batch_size, progress=False, on_batch=die)


def index_paused_between_commits(
    model_folder: str, corpus: str, db: str, pause_after_rows: int, paused: str, go_on: str, batch_size: int = 4
) -> None:
    """Index ``corpus`` into ``db`` in this process, stopping between two commits: once ``pause_after_rows``
    rows are committed it creates the file ``paused`` and waits (at most 10 minutes) until the file
    ``go_on`` exists, then finishes the run. Run it in a child process, to start a second run meanwhile."""
    from songalign.search.indexer import build_index

    def wait(added: int) -> None:
        if added >= pause_after_rows and not Path(paused).exists():
            Path(paused).touch()
            deadline = time.monotonic() + 600
            while not Path(go_on).exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    torch.set_num_threads(1)
    build_index(model_folder, corpus, db, batch_size=batch_size, progress=False, on_batch=wait)


@contextmanager
def running_server(app, host: str = "127.0.0.1", timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with the real uvicorn on ``host`` and an ephemeral port; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="off", timeout_keep_alive=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="songalign-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def segment_rows(
    vectors: np.ndarray, start: int = 0, songs_of: int = 20, text_vectors: np.ndarray | None = None
) -> pa.Table:
    """Rows of the ``segments`` table (:func:`songalign.search.store.segment_schema`) holding ``vectors``
    ``(N, D)`` float32 as audio vectors and ``text_vectors`` ``(N, D)`` as lyric vectors (default: the audio
    vectors again): ids ``r{start:07d}``…, ``songs_of`` consecutive rows a song, empty text columns — for tests
    and benchmarks of the index on vectors made up."""
    from songalign.search.store import segment_schema

    def column(rows: np.ndarray) -> pa.FixedSizeListArray:
        return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(rows, np.float32).reshape(-1)), dim)

    count, dim = vectors.shape
    flat = column(vectors)
    columns = {
        "id": pa.array([f"r{i:07d}" for i in range(start, start + count)]),
        "song_id": pa.array([f"s{i // songs_of}" for i in range(start, start + count)]),
        "start": pa.array(np.zeros(count)),
        "end": pa.array(np.full(count, 10.0)),
        "label_tags": pa.array([[] for _ in range(count)], pa.list_(pa.string())),
        "vector": flat,
        "text_vector": flat if text_vectors is None else column(text_vectors),
    }
    schema = segment_schema(dim)
    empty = pa.array([""] * count)
    return pa.Table.from_arrays([columns.get(f.name, empty).cast(f.type) for f in schema], schema=schema)
