"""The two CRNNs and the transcriber: shapes and lengths in every mode and join, whole-song emissions
that cover every frame, a model folder that round-trips, and a tiny model that overfits two clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from songalign.errors import SongalignError
from songalign.transcribe import NETWORKS
from songalign.transcribe.data import Clip, collate
from songalign.transcribe.decode import greedy_decode
from songalign.transcribe.model import Transcriber, TranscriberConfig
from songalign.transcribe.networks import output_frames
from songalign.transcribe.symbols import SYMBOLS, encode
from songalign.transcribe.testing import TINY_NETWORK

TINY = TINY_NETWORK.model_copy(update={"lyrics_hidden": 16, "dropout": 0.0})


def tiny(mode: str = "multitask", **network) -> Transcriber:
    config = TranscriberConfig(
        mode=mode, vocals="mix", network=TINY.model_copy(update=network), clip_frames=200, overlap_frames=20
    )
    return Transcriber(config)


def test_the_networks_are_registered_by_name():
    assert {"pitch_onset_crnn", "lyrics_crnn"} <= set(NETWORKS.names())


def test_paper_sizes_build_and_give_the_paper_s_shapes():
    model = Transcriber(TranscriberConfig())  # configs/alt.yaml's sizes
    mel = torch.randn(1, 2, 80, 101)
    out = model(mel)
    assert out.pitch.shape == (1, 101, 129) and out.onset.shape == (1, 101)
    assert out.lyrics.shape == (1, 51, len(SYMBOLS))  # T/2, rounded up
    assert [b.conv.kernel_size[0] for b in model.pitch_net.cnn] == [5, 5, 3, 3, 3, 1]
    assert [b.conv.out_channels for b in model.lyrics_net.cnn] == [64, 32, 32, 32, 32, 16]
    assert len(model.lyrics_net.rnn) == 3 and model.lyrics_net.rnn[0].lstm.hidden_size == 512


@pytest.mark.parametrize("join", ["pool", "interpolate"])
@pytest.mark.parametrize("frames", [64, 65])
@pytest.mark.parametrize("frequency_pool", [1, 2])
def test_both_joins_emit_ceil_half_the_frames(join, frames, frequency_pool):
    model = tiny(join=join, lyrics_head="two_layer", pitch_head="summed", frequency_pool=frequency_pool)
    out = model(torch.randn(2, 2, 80, frames))
    assert out.lyrics.shape == (2, output_frames(frames), len(SYMBOLS))
    assert out.pitch.shape == (2, frames, 129)


def test_modes_build_only_the_networks_they_need():
    assert tiny("baseline").pitch_net is None and tiny("oracle").pitch_net is None
    assert tiny("pitch").lyrics_net is None and tiny("pitch")(torch.randn(1, 2, 80, 20)).lyrics is None
    with pytest.raises(SongalignError, match="annotated notes"):
        tiny("oracle")(torch.randn(1, 2, 80, 20))


def test_the_baseline_ignores_what_the_oracle_hears():
    torch.manual_seed(0)
    oracle = tiny("oracle").eval()
    mel = torch.randn(1, 2, 80, 40)
    silent = oracle(mel, torch.full((1, 40), 128), torch.zeros(1, 40)).lyrics
    sung = oracle(mel, torch.full((1, 40), 60), torch.ones(1, 40)).lyrics
    assert not torch.allclose(silent, sung)  # the annotations reach the lyrics network


@pytest.mark.parametrize("seconds", [0.5, 3.2, 9.7])
def test_whole_song_emissions_cover_every_frame(seconds):
    torch.manual_seed(0)
    model = tiny().eval()
    audio = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    emissions = model.emissions(audio)
    frames = int(seconds * 16000) // 256 + 1
    assert emissions.pitch.shape == (frames, 129) and emissions.log_probs.shape == (output_frames(frames), 29)
    np.testing.assert_allclose(np.exp(emissions.log_probs).sum(-1), 1.0, atol=1e-4)  # no row left empty
    np.testing.assert_allclose(emissions.pitch.sum(-1), 1.0, atol=1e-4)
    if frames <= model.config.clip_frames:  # one window: exactly the network's own output
        mel = torch.from_numpy(np.stack([audio, audio]))
        from songalign.audio.features import log_mel
        from songalign.transcribe.data import FEATURES

        with torch.no_grad():
            direct = model(log_mel(mel, FEATURES)[None]).lyrics[0].log_softmax(-1).numpy()
        np.testing.assert_allclose(emissions.log_probs, direct, atol=1e-5)


@pytest.mark.parametrize("frames", [150, 200, 201, 351, 999, 1000, 1001])
def test_each_frame_comes_from_one_window_away_from_its_edges(frames):
    model = tiny()  # windows of 200 frames sharing 20 on each side
    starts = model._window_starts(frames)
    assert all(start % 2 == 0 for start in starts)
    kept = [model._kept(start, starts, frames) for start in starts]
    assert kept[0][0] == 0 and kept[-1][1] == frames
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:], strict=False))  # contiguous, no frame twice
    width = model.config.clip_frames
    for (lo, hi), start in zip(kept, starts, strict=True):
        assert start <= lo < hi <= start + width
        assert lo == 0 or lo - start >= 10  # at least half the overlap from the window's edges
        assert hi == frames or start + width - hi >= 10


def test_the_model_folder_round_trips(tmp_path):
    model = tiny()
    folder = model.save_pretrained(tmp_path / "m", {"name": "tiny", "data": {"trained_songs": ["a"]}})
    loaded = Transcriber.from_pretrained(folder)
    assert loaded.config == model.config
    mel = torch.randn(1, 2, 80, 30)
    torch.testing.assert_close(loaded(mel).lyrics, model.eval()(mel).lyrics)
    card = (folder / "README.md").read_text()
    assert "songalign transcriber" in card and "vocal channel: mix" in card


def test_a_transcriber_folder_is_checked_before_it_loads(tmp_path):
    with pytest.raises(SongalignError) as raised:
        Transcriber.from_pretrained(tmp_path / "nowhere")
    assert str(raised.value) == (
        f"{tmp_path / 'nowhere'} is not a transcriber folder (it needs config.json and model.safetensors); "
        "train one with `songalign transcribe train` or give the right path"
    )
    folder = tiny().save_pretrained(tmp_path / "m", {"name": "tiny", "kind": "align"})
    with pytest.raises(SongalignError, match=r"m holds an 'align' model \(card.json kind\), not a transcriber \("):
        Transcriber.from_pretrained(folder)


def test_a_tiny_model_overfits_two_clips():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    texts = ["la di", "oh no"]
    clips = []
    spectra = torch.from_numpy(2 * rng.standard_normal((len(SYMBOLS), 80)).astype(np.float32))
    for text in texts:  # "acoustics": each symbol sounds as its own fixed spectrum for 6 frames
        tokens = encode(text)
        mel = torch.full((2, 80, 8 * len(tokens) + 8), -11.5)
        for index, token in enumerate(tokens):
            mel[:, :, 4 + 8 * index : 10 + 8 * index] = spectra[token][None, :, None]
        clips.append(Clip(mel, np.full(mel.shape[-1], 128), np.zeros(mel.shape[-1], np.float32), tokens))
    batch = collate(clips)
    model = tiny("baseline", lyrics_hidden=32)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        log_probs = model(batch.mel).lyrics.log_softmax(-1).transpose(0, 1)
        loss = F.ctc_loss(log_probs, batch.tokens, output_frames(batch.lengths), batch.token_lengths)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        decoded = [greedy_decode(model(c.mel[None]).lyrics[0].log_softmax(-1)) for c in clips]
    assert loss.item() < 0.5 and decoded == texts
