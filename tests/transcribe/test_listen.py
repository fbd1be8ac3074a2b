"""One way to hear a song (songalign.transcribe.listen): loading for a need, the vocal channel, hearing, timing.

The transcribers are tiny and randomly initialised (saved here), so what is checked is the choice of
model and channel, the one-sentence refusals, and that a heard file is timed inside its audio.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from songalign.corpus.aligners import ALIGNERS, LyricsAligner
from songalign.corpus.testing import write_audio
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import SEPARATORS, Separator, Stems
from songalign.transcribe.listen import (
    MIX_COPY,
    CtcLyricsAligner,
    VocalChannel,
    check_transcriber,
    hear,
    load_transcriber,
)
from songalign.transcribe.testing import save_tiny_transcriber


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("listen")
    return {
        mode: save_tiny_transcriber(root / mode, mode=mode, vocals="stem" if mode == "multitask" else "mix")
        for mode in ("baseline", "multitask", "oracle", "pitch")
    }


@pytest.mark.parametrize(
    ("mode", "needs", "refused"),
    [
        ("oracle", None, "which reads the annotated notes of what it hears and so cannot run on plain audio; "
                         "give one trained with mode multitask or baseline"),
        ("oracle", "notes", "which reads the annotated notes of what it hears and so cannot run on plain audio; "
                            "give one trained with mode multitask or pitch"),
        ("pitch", "lyrics", "which writes no lyrics; give one trained with mode multitask or baseline"),
        ("baseline", "notes", "without a pitch network, so it gives no notes; give one trained with mode multitask "
                              "or pitch"),
        ("baseline", "lyrics", None),
        ("pitch", "notes", None),
        ("multitask", "lyrics", None),
        ("multitask", "notes", None),
    ],
)  # fmt: skip
def test_a_model_is_refused_in_one_sentence_where_it_cannot_serve_the_need(models, mode, needs, refused):
    folder = models[mode]
    if refused is None:
        assert check_transcriber(folder, needs=needs).mode == mode
        assert load_transcriber(folder, needs=needs).config.mode == mode
        return
    expected = f"{folder} is a transcriber of mode '{mode}', {refused}"
    for load in (check_transcriber, load_transcriber):  # the cheap check and the loader say the same
        with pytest.raises(SongalignError) as raised:
            load(folder, needs=needs)
        assert str(raised.value) == expected
    with pytest.raises(SongalignError, match=r"^option aligner=\S+ is a transcriber of mode"):
        check_transcriber(folder, needs=needs, where=f"option aligner={folder}")


def test_a_folder_that_is_not_a_transcriber_is_named_with_the_fix(tmp_path):
    with pytest.raises(SongalignError, match=r"^\S+empty is not a transcriber folder \(it needs config.json and "):
        check_transcriber(tmp_path / "empty")


def test_the_vocal_channel_is_the_option_else_the_model_s_own(models, tmp_path):
    config = load_transcriber(models["baseline"]).config  # trained with vocals=mix
    assert VocalChannel.choose(config, None, where="m") == VocalChannel("mix", "")
    stem_config = load_transcriber(models["multitask"]).config  # trained on stems: plain audio has none
    chosen = VocalChannel.choose(stem_config, None, where="m")
    assert chosen.source == "stem" and chosen.note.startswith("was trained on vocal stems")
    assert VocalChannel.choose(stem_config, "mix", where="m") == VocalChannel("mix", "")  # an option: no note

    stem = write_audio(tmp_path / "voice.wav", 1.0, frequency=440.0)
    assert VocalChannel.choose(config, str(stem), where="m").source == str(stem)
    with pytest.raises(SongalignError, match=r"is one vocal stem but 2 audio files were given"):
        VocalChannel.choose(config, str(stem), where="m", files=2)
    with pytest.raises(BadInputError, match=r"--vocals is neither 'mix', an open-unmix model folder nor a vocal stem"):
        VocalChannel.choose(config, str(tmp_path / "missing"), where="m")
    own = config.model_copy(update={"vocals": str(tmp_path / "no-separator")})
    with pytest.raises(SongalignError, match=r"^m hears vocals separated by \S+no-separator, which is not a folder"):
        VocalChannel.choose(own, None, where="m")


@pytest.mark.skipif(importlib.util.find_spec("openunmix") is not None, reason="open-unmix is installed here")
def test_a_separator_folder_without_open_unmix_is_one_sentence(models, tmp_path):
    folder = tmp_path / "umx"
    folder.mkdir()
    config = load_transcriber(models["baseline"]).config
    with pytest.raises(SongalignError, match=r"is an open-unmix folder, but open-unmix is not installed; pip install"):
        VocalChannel.choose(config, str(folder), where="m")
    with pytest.raises(SongalignError, match=r"^separating vocals needs open-unmix: pip install openunmix"):
        SEPARATORS["open-unmix"](folder)


def test_a_stem_file_is_heard_as_the_vocal_channel_and_the_mix_copy_otherwise(models, tmp_path):
    transcriber = load_transcriber(models["baseline"])
    song = write_audio(tmp_path / "song.wav", 2.0)
    voice = write_audio(tmp_path / "voice.wav", 2.0, frequency=440.0)
    copied = hear(transcriber, song, VocalChannel("mix"))
    separate = hear(transcriber, song, VocalChannel(str(voice)))
    assert copied.vocals == MIX_COPY and separate.vocals == f"stem {voice}"
    assert copied.duration == pytest.approx(2.0) and separate.duration == pytest.approx(2.0)
    # the two channels differ, so the emissions do: the stem really reached the network
    assert not np.allclose(copied.emissions.log_probs, separate.emissions.log_probs)
    empty = tmp_path / "empty.wav"
    write_audio(empty, 0.0)
    with pytest.raises(BadInputError, match="holds no audio"):
        hear(transcriber, empty, VocalChannel("mix"))


def test_the_ctc_aligner_is_found_by_name_and_times_lines_inside_the_audio(models, tmp_path):
    assert ALIGNERS["ctc"] is CtcLyricsAligner
    aligner = ALIGNERS["ctc"](models["multitask"])
    assert isinstance(aligner, LyricsAligner)
    song = write_audio(tmp_path / "song.wav", 3.0)
    report = SkipReport()
    aligned = aligner.align(song, ["oh yeah", "sing it"], report)
    assert [line.text for line in aligned.lines] == ["oh yeah", "sing it"]
    assert [word.text for word in aligned.words] == ["oh", "yeah", "sing", "it"]
    times = [t for line in aligned.lines for t in (line.start, line.end)]
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= 3.0
    assert aligned.vocals == MIX_COPY and np.isfinite(aligned.log_likelihood)
    assert aligner.describe() == {"aligner": "ctc", "transcriber": str(models["multitask"].resolve())}
    (note,) = report.entries  # the stem-trained model hears a mix copy, said once however many songs
    aligner.align(song, ["oh yeah"], report)
    assert len(report.entries) == 1 and "was trained on vocal stems" in note.reason


class QuieterVoice:
    """A separator as another package would register one: the 'vocals' are the mix at ``gain``."""

    def __init__(self, model: str = "", *, gain: float = 0.5) -> None:
        self.gain = float(model) if model else gain

    digest = "0123456789abcdef"

    def separate(self, audio, sample_rate):
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        return Stems(self.gain * audio, (1 - self.gain) * audio, sample_rate)


def test_a_registered_separator_is_chosen_by_name_for_the_vocal_channel(models, tmp_path):
    if "quieter-test" not in SEPARATORS:
        SEPARATORS.register("quieter-test", QuieterVoice)
    assert isinstance(SEPARATORS["quieter-test"]("0.25"), Separator)
    transcriber = load_transcriber(models["baseline"])
    channel = VocalChannel.choose(transcriber.config, "quieter-test:0.25", where="m")
    assert channel == VocalChannel("quieter-test:0.25", "")
    mix = np.linspace(-1, 1, 16000, dtype=np.float32)
    vocals, held = channel.vocals_of(mix)
    np.testing.assert_array_equal(vocals, 0.25 * mix)
    assert held == "separated by quieter-test:0.25"
    song = write_audio(tmp_path / "song.wav", 2.0)
    heard = hear(transcriber, song, channel)
    assert heard.vocals == "separated by quieter-test:0.25"
    assert not np.allclose(heard.emissions.log_probs, hear(transcriber, song, VocalChannel("mix")).emissions.log_probs)
    with pytest.raises(SongalignError, match="^unknown vocal separator 'nope'"):
        SEPARATORS["nope"]
