"""The band backing (`corpus synth --backing soundfont`): the SoundFont player against hand-built zones and the
fields TimGM6mb.sf2 documents, notes at their pitch, the per-song mix, and a corpus that is the same bytes from
the same seed."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from songalign.corpus.synth import band, generate, render, song
from songalign.corpus.synth.music import DRUM_GAINS, TIMBRES
from songalign.corpus.synth.soundfont import Zone
from songalign.errors import SongalignError

_MISSING = [name for name in ("pretty_midi", "sf2utils", "pedalboard") if importlib.util.find_spec(name) is None]
needs_band = pytest.mark.skipif(
    bool(_MISSING), reason=f"the band backing needs {', '.join(_MISSING)}: pip install 'songalign[band]'"
)
SR = 22050


def _zone(**changes) -> Zone:
    """A zone that plays a 441 Hz sine sampled at 44100 Hz (100 samples a period) as MIDI key 69, looped over
    its last 10 periods, with a plain envelope; ``changes`` replace fields."""
    samples = np.sin(2 * np.pi * 441.0 * np.arange(4000) / 44100.0).astype(np.float32)
    fields = dict(name="sine", samples=samples, sample_rate=44100, root_key=69, tune=0.0, scale_tuning=100.0,
                  loop=(3000, 4000), attenuation=0.0, delay=0.0, attack=0.0, hold=0.0, decay=1.0, sustain=0.0,
                  release=0.5)  # fmt: skip
    return Zone(**{**fields, **changes})


def test_every_instrument_and_drum_has_a_general_midi_sound():
    assert set(band.GM_PROGRAMS) == set(TIMBRES)
    assert set(band.GM_DRUMS) == set(DRUM_GAINS)
    assert all(0 <= program <= 127 for program in band.GM_PROGRAMS.values())


def test_the_volume_envelope_follows_the_generators():
    """Attack 0.1 s linear, hold 0.1 s, decay 100 dB per second down to a sustain 20 dB below full, then a
    release of 100 dB in 0.5 s: values by hand at times that fall on whole samples at 22050 Hz."""
    zone = _zone(delay=0.0, attack=0.1, hold=0.1, decay=1.0, sustain=20.0, release=0.5)
    held = round(0.6 * SR)
    env = zone.envelope(held, SR)
    assert len(env) == held + round(0.5 * SR)
    at = lambda seconds: float(env[round(seconds * SR)])  # noqa: E731
    assert at(0.04) == pytest.approx(0.4, abs=1e-6)  # 40 % of the way up the attack
    assert at(0.15) == pytest.approx(1.0, abs=1e-6)  # holding
    assert at(0.26) == pytest.approx(10 ** (-6 / 20), rel=1e-5)  # 0.06 s into the decay: -6 dB
    assert at(0.55) == pytest.approx(0.1, rel=1e-5)  # the sustain, -20 dB, reached at 0.4 s
    assert at(0.7) == pytest.approx(0.1 * 10 ** (-20 / 20), rel=1e-5)  # 0.1 s into the release: 20 dB lower


def test_a_looped_zone_plays_its_key_an_octave_up_at_twice_the_pitch():
    """Key 81 on a zone whose root is 69 reads the 441 Hz sine at twice its speed; at 22050 Hz out, four source
    samples per output sample; the loop keeps it sounding past the sample's end, at 882 Hz."""
    zone = _zone()
    assert zone.ratio(81, SR) == pytest.approx(4.0)
    x = zone.play(81, SR, SR)  # held 1 s: 88200 source samples, far past the 4000 there are
    tail = x[round(0.5 * SR) : SR].astype(np.float64)  # 0.5 s, all from the loop
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    freqs = np.fft.rfftfreq(len(tail), 1 / SR)
    assert abs(freqs[spectrum.argmax()] - 882.0) <= freqs[1]
    assert _zone(loop=None).play(81, SR, SR).shape == (1000,)  # unlooped: the 4000 samples, read 4 at a time


@pytest.fixture(scope="module")
def font():
    if _MISSING:
        pytest.skip(f"the band backing needs {', '.join(_MISSING)}: pip install 'songalign[band]'")
    from songalign.corpus.synth.soundfont import general_midi

    return general_midi()


@needs_band
def test_the_font_reads_the_fields_timgm6mb_documents(font):
    """TimGM6mb.sf2's first piano zone (keys 0-29), as its generators say: root key 63 (an override), fine tune
    -15 cents, 13.5 dB attenuation, hold 2 ** (-888 / 1200) s, release 2 ** (75 / 1200) s, sustain 100 dB down,
    looped until note-off; and the General MIDI preset names."""
    assert (font.preset_name(0), font.preset_name(33), font.preset_name(0, bank=128)) == (
        "Piano 1", "Fingered Bass", "Standard",
    )  # fmt: skip
    (zone,) = font.zones(0, 20)
    assert (zone.name, zone.root_key, zone.tune, zone.attenuation, zone.sustain) == ("Piano D1", 63, -15.0, 13.5, 100.0)
    assert zone.hold == pytest.approx(0.5991, abs=1e-4)
    assert zone.release == pytest.approx(1.0443, abs=1e-4)
    assert zone.decay == pytest.approx(32.02, abs=0.01)
    assert zone.loop is not None and zone.loop[0] < zone.loop[1] <= len(zone.samples)


@needs_band
@pytest.mark.parametrize(("instrument", "key"), [("bass guitar", 40), ("piano", 60), ("string pad", 64), ("flute", 69)])
def test_a_rendered_note_has_energy_at_its_fundamental(font, instrument, key):
    """A held note's spectrum (0.1 to 1 s) peaks within 1 % of the key's frequency near it, and the band of ±3 %
    around that frequency holds at least a tenth of the note's energy (a fundamental that is there, not only its
    harmonics; the four instruments measure 0.2 to 0.7)."""
    x = font.note(band.GM_PROGRAMS[instrument], key, 1.0, SR).astype(np.float64)
    part = x[round(0.1 * SR) : SR]
    power = np.abs(np.fft.rfft(part * np.hanning(len(part)))) ** 2
    freqs = np.fft.rfftfreq(len(part), 1 / SR)
    f0 = 440.0 * 2 ** ((key - 69) / 12)
    near = (freqs > 0.9 * f0) & (freqs < 1.1 * f0)
    assert abs(freqs[near][power[near].argmax()] - f0) <= max(0.01 * f0, freqs[1])
    assert power[(freqs > 0.97 * f0) & (freqs < 1.03 * f0)].sum() >= 0.1 * power.sum()


@needs_band
def test_every_drum_sounds(font):
    for drum, key in band.GM_DRUMS.items():
        hit = font.note(0, key, 0.1, SR, bank=128)
        assert np.isfinite(hit).all() and float(np.abs(hit).max()) > 0.01, drum


@pytest.fixture(scope="module")
def band_song(font):
    """A one-section English song sung syllable by syllable with the band backing, composed and mixed."""
    spec = generate.plan_corpus(1, seed=5, duration=16.0, languages=["en"], backing="soundfont")[0]
    composed = song.compose_song(spec)
    return composed, render.stems(composed)


@needs_band
def test_the_vocals_sit_at_the_songs_drawn_level(band_song):
    """Over the sung notes, the vocals' RMS is the drawn vocal_db above the accompaniment's (one section, so the
    section gain scales both alike; float32 sums: 0.01 dB)."""
    composed, parts = band_song
    assert len(composed.sections) == 1
    notes = [n for s in composed.sections for line in s.lines for n in line.notes()]
    sung = render._spans(notes, composed.n_samples)
    level = 20 * math.log10(render.rms(parts["vocals"][sung]) / render.rms(parts["accompaniment"][sung]))
    drawn = band.BandMix.draw(5, 0).vocal_db
    assert -6.0 <= drawn <= 6.0
    assert level == pytest.approx(drawn, abs=0.01)


@needs_band
def test_the_band_changes_the_backing_not_the_song(band_song):
    composed, _ = band_song
    spec = generate.plan_corpus(1, seed=5, duration=16.0, languages=["en"])[0]
    plain = song.compose_song(spec).to_song()
    banded = composed.to_song()
    assert [(w.text, w.start, w.end) for w in banded.words] == [(w.text, w.start, w.end) for w in plain.words]
    assert banded.notes == plain.notes


def test_an_unknown_backing_is_one_sentence(tmp_path):
    with pytest.raises(SongalignError, match="backing must be one of synth, soundfont, got 'band'"):
        generate.synthesize_corpus(tmp_path / "c", n_songs=1, duration=16.0, backing="band")
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def band_corpus(tmp_path_factory, font):
    out = tmp_path_factory.mktemp("band") / "corpus"
    generate.synthesize_corpus(out, n_songs=2, seed=3, duration=16.0, workers=2, languages=["en"],
                               stems=True, backing="soundfont")  # fmt: skip
    return out


@needs_band
def test_same_seed_same_bytes_with_the_band(band_corpus, tmp_path):
    again = tmp_path / "again"
    generate.synthesize_corpus(again, n_songs=2, seed=3, duration=16.0, workers=1, languages=["en"],
                               stems=True, backing="soundfont")  # fmt: skip
    files = sorted(p.relative_to(band_corpus) for p in band_corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (band_corpus / name).read_bytes() == (again / name).read_bytes(), name


@needs_band
def test_the_corpus_records_each_songs_mix(band_corpus):
    import csv

    with (band_corpus / "metadata" / "songs.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["backing"] for row in rows] == ["soundfont", "soundfont"]
    for row in rows:
        settings = band.BandMix.draw(3, int(row["index"]))
        assert float(row["vocal_db"]) == settings.vocal_db
        assert json.loads(row["mix"]) == json.loads(settings.to_text())
    manifest = json.loads((band_corpus / "metadata" / "synth.json").read_text(encoding="utf-8"))
    assert manifest["backing"] == "soundfont" and manifest["vocal_db_range"] == [-6.0, 6.0]
