"""One way to hear a song (songalign.transcribe.listen): loading for a need, the vocal channel, hearing, timing.

The transcribers are tiny and randomly initialised (saved here), so what is checked is the choice of
model and channel, the one-sentence refusals, and that a heard file is timed inside its audio.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

from songalign.audio.io import load_audio
from songalign.corpus.aligners import ALIGNERS, LyricsAligner
from songalign.corpus.testing import write_audio
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import SEPARATORS, Separator
from songalign.separate.testing import ScaledVoice
from songalign.transcribe.listen import (
    MIX_COPY,
    SEPARATED_FOLDER,
    STEM_NOTE,
    CtcLyricsAligner,
    VocalChannel,
    check_channel,
    check_transcriber,
    corpus_channel_note,
    hear,
    load_transcriber,
    separate_vocals,
    separation_key,
    separator_card,
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
    assert VocalChannel.choose(stem_config, "mix", where="m") == VocalChannel(  # another channel: one warning
        "mix", "was trained on vocal stems and now hears a copy of the mix; it may transcribe less well"
    )

    stem = write_audio(tmp_path / "voice.wav", 1.0, frequency=440.0)
    assert VocalChannel.choose(config, str(stem), where="m").source == str(stem)
    with pytest.raises(SongalignError, match=r"is one vocal stem but 2 audio files were given"):
        VocalChannel.choose(config, str(stem), where="m", files=2)
    with pytest.raises(
        SongalignError,
        match=r"^--vocals \S+missing is neither 'mix', 'stem', a registered separator \(.*spleeter.*\), an existing "
        r"open-unmix model folder nor a vocal stem file; give --vocals spleeter, --vocals mix, ",
    ):
        VocalChannel.choose(config, str(tmp_path / "missing"), where="m")
    own = config.model_copy(update={"vocals": str(tmp_path / "no-separator")})
    with pytest.raises(SongalignError, match=r"^the vocal channel \S+no-separator of m is neither 'mix', 'stem', a"):
        VocalChannel.choose(own, None, where="m")


@pytest.mark.skipif(importlib.util.find_spec("openunmix") is not None, reason="open-unmix is installed here")
def test_a_separator_folder_without_open_unmix_is_one_sentence(models, tmp_path):
    folder = tmp_path / "umx"
    folder.mkdir()
    config = load_transcriber(models["baseline"]).config
    with pytest.raises(
        SongalignError, match=r"^--vocals \S+umx cannot be heard: separating vocals needs open-unmix: pip"
    ):
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


class QuieterVoice(ScaledVoice):
    """The 'vocals' are the mix at a quarter of its level."""

    gain = 0.25
    digest = "0123456789abcdef"


def test_a_registered_separator_is_chosen_by_name_for_the_vocal_channel(models, tmp_path, register_separator):
    register_separator("quieter-test", QuieterVoice)
    assert isinstance(SEPARATORS["quieter-test"]("0123456789abcdef"), Separator)
    transcriber = load_transcriber(models["baseline"])
    channel = VocalChannel.choose(transcriber.config, "quieter-test:0123456789abcdef", where="m")
    assert channel.source == "quieter-test:0123456789abcdef"  # the model trained on a mix copy: warned once
    assert channel.note.startswith("was trained on a copy of the mix and now hears vocals separated by quieter-test")
    mix = np.linspace(-1, 1, 16000, dtype=np.float32)
    vocals, held = channel.vocals_of(mix)
    np.testing.assert_array_equal(vocals, 0.25 * mix)
    assert held == "separated by quieter-test:0123456789abcdef"
    song = write_audio(tmp_path / "song.wav", 2.0)
    heard = hear(transcriber, song, channel)
    assert heard.vocals == "separated by quieter-test:0123456789abcdef"
    assert not np.allclose(heard.emissions.log_probs, hear(transcriber, song, VocalChannel("mix")).emissions.log_probs)
    with pytest.raises(SongalignError, match="^unknown vocal separator 'nope'"):
        SEPARATORS["nope"]


# -- separated vocals, cached per song -------------------------------------------------------------------


class CountingVoice(ScaledVoice):
    """Half of the audio; ``model`` is its weights' digest (default ``00000000000000d1``)."""


@pytest.fixture
def counting(tmp_path, register_separator):
    """``counting-test`` registered for one test, a separation cache of its own."""
    register_separator("counting-test", CountingVoice)
    return tmp_path / "cache" / SEPARATED_FOLDER


def _entries(root):
    return sorted(root.rglob("*.npy")) if root.exists() else []


def test_separation_is_cached_per_song_and_separator_weights(counting, tmp_path):
    import shutil

    song = write_audio(tmp_path / "song.wav", 1.0, frequency=220.0)
    other = write_audio(tmp_path / "other.wav", 1.0, frequency=330.0)
    mix = load_audio(song, 16000)[0]
    first = separate_vocals(mix, "counting-test:00000000000000d1", song)
    np.testing.assert_array_equal(first, 0.5 * mix)  # a 16 kHz mono file: the separator heard exactly the mix
    assert CountingVoice.calls == 1 and len(_entries(counting)) == 1

    again = separate_vocals(mix, "counting-test:00000000000000d1", song)
    shutil.copy(song, tmp_path / "renamed.wav")  # the same bytes under another name: the same entry
    separate_vocals(mix, "counting-test:00000000000000d1", tmp_path / "renamed.wav")
    assert CountingVoice.calls == 1
    np.testing.assert_array_equal(again, first)

    separate_vocals(mix, "counting-test:00000000000000d2", song)  # other weights: another entry
    separate_vocals(load_audio(other, 16000)[0], "counting-test:00000000000000d1", other)  # another song
    assert CountingVoice.calls == 3 and len(_entries(counting)) == 3

    bare = 0.25 * mix  # an array with no file: keyed by its samples
    separate_vocals(bare, "counting-test:00000000000000d1")
    separate_vocals(bare.copy(), "counting-test:00000000000000d1")
    assert CountingVoice.calls == 4 and len(_entries(counting)) == 4


def test_the_cache_key_is_the_audio_s_digest_and_the_separator_s(tmp_path):
    import hashlib

    song = write_audio(tmp_path / "song.wav", 0.5)
    key = separation_key("spleeter", "0123456789abcdef", song)
    audio = "file:" + hashlib.sha256(song.read_bytes()).hexdigest()
    expected = hashlib.sha256(f"{audio}|spleeter|0123456789abcdef|vocals mono 16000 Hz float32".encode()).hexdigest()
    assert key == expected
    samples = np.array([0.5, -0.25], dtype=np.float32)
    assert separation_key("spleeter", "0123456789abcdef", samples) == hashlib.sha256(
        ("samples:" + hashlib.sha256(samples.tobytes()).hexdigest() + "|spleeter|0123456789abcdef|vocals mono "
         "16000 Hz float32").encode()
    ).hexdigest()  # fmt: skip
    assert separation_key("spleeter", "fedcba9876543210", song) != key


def test_a_corrupt_cache_entry_is_separated_again(counting, tmp_path):
    song = write_audio(tmp_path / "song.wav", 1.0)
    mix = load_audio(song, 16000)[0]
    first = separate_vocals(mix, "counting-test", song)
    (entry,) = _entries(counting)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # a half-written file
    np.testing.assert_array_equal(separate_vocals(mix, "counting-test", song), first)
    assert CountingVoice.calls == 2
    np.testing.assert_array_equal(np.load(entry), first)  # replaced by a whole one
    entry.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(separate_vocals(mix, "counting-test", song), first)
    assert CountingVoice.calls == 3


def test_a_model_hearing_another_channel_than_it_trained_on_says_so_in_one_sentence(counting, models):
    config = load_transcriber(models["baseline"]).config.model_copy(update={"vocals": "counting-test"})
    card = {"data": {"vocals": "counting-test", "separator": separator_card("counting-test")}}
    assert card["data"]["separator"] == {"name": "counting-test", "model": "", "digest": "00000000000000d1"}
    assert VocalChannel.choose(config, None, where="m", card=card) == VocalChannel("counting-test", "")
    assert VocalChannel.choose(config, "mix", where="m", card=card).note == (
        "was trained on vocals separated by counting-test (digest 00000000000000d1) and now hears a copy of the "
        "mix; it may transcribe less well"
    )
    other_weights = VocalChannel.choose(config, "counting-test:00000000000000d2", where="m", card=card)
    assert other_weights.note == (
        "was trained on vocals separated by counting-test (digest 00000000000000d1) and now hears vocals "
        "separated by counting-test:00000000000000d2 (digest 00000000000000d2); it may transcribe less well"
    )
    changed = {"data": {"separator": {"name": "counting-test", "model": "", "digest": "00000000000000ff"}}}
    assert "(digest 00000000000000ff) and now hears vocals separated by counting-test (digest 00000000000000d1)" in (
        VocalChannel.choose(config, None, where="m", card=changed).note
    )  # the same name, other weights than the card's
    mix_model = config.model_copy(update={"vocals": "mix"})
    assert VocalChannel.choose(mix_model, "counting-test", where="m").note == (
        "was trained on a copy of the mix and now hears vocals separated by counting-test (digest "
        "00000000000000d1); it may transcribe less well"
    )
    stem_model = config.model_copy(update={"vocals": "stem"})  # it learnt clean voices: a separator's are not those
    assert VocalChannel.choose(stem_model, "counting-test", where="m").note == (
        "was trained on vocal stems and now hears vocals separated by counting-test (digest 00000000000000d1); it "
        "may transcribe less well"
    )
    assert VocalChannel.choose(stem_model, None, where="m").note == STEM_NOTE  # today's note, unchanged


def test_separators_are_compared_by_name_and_weights_not_by_how_they_are_named(counting, models, tmp_path):
    config = load_transcriber(models["baseline"]).config.model_copy(update={"vocals": "counting-test"})
    card = {"data": {"vocals": "counting-test", "separator": separator_card("counting-test")}}
    # the default weights named by their model string: the same digest, the same channel, no warning
    assert VocalChannel.choose(config, "counting-test:00000000000000d1", where="m", card=card).note == ""
    assert corpus_channel_note(config, "counting-test:00000000000000d1", card=card) == ""
    trained_on_folder = config.model_copy(update={"vocals": "counting-test:00000000000000d1"})
    assert VocalChannel.choose(trained_on_folder, "counting-test", where="m", card=card).note == ""
    # a model whose card has no digest (an older card) is compared by the MODEL part
    assert VocalChannel.choose(config, "counting-test", where="m", card={}).note == ""
    assert VocalChannel.choose(config, "counting-test:00000000000000d2", where="m", card={}).note.startswith(
        "was trained on vocals separated by counting-test and now hears vocals separated by counting-test:"
    )
    stem = write_audio(tmp_path / "voice.wav", 1.0, frequency=440.0)  # a stem file is a clean voice, as stems are
    assert VocalChannel.choose(config.model_copy(update={"vocals": "stem"}), str(stem), where="m").note == ""


def test_a_remedy_that_a_note_suggests_is_said_honestly(counting, models):
    # a stem-trained model on plain audio is told that separated vocals are nearer its stems than a mix copy,
    # and hearing them it warns once that they are not stems: the two sentences agree
    aligner = CtcLyricsAligner(models["multitask"])
    assert aligner.channel.note == STEM_NOTE
    report = SkipReport()
    aligner._loaded(report)
    (said,) = [entry.reason for entry in report.entries]
    assert said == (
        f"{STEM_NOTE} and may align less well; give option aligner_vocals=spleeter (separated vocals, nearer the "
        "stems it learnt than a mix copy) or a transcriber trained with vocals=spleeter"
    )
    following = CtcLyricsAligner(models["multitask"], vocals="counting-test")
    assert following.channel.note.startswith("was trained on vocal stems and now hears vocals separated by")


def test_the_ctc_aligner_hears_separated_vocals_when_asked(counting, models, tmp_path):
    song = write_audio(tmp_path / "song.wav", 3.0)
    aligner = CtcLyricsAligner(models["multitask"], vocals="counting-test")
    report = SkipReport()
    aligned = aligner.align(song, ["oh yeah"], report)
    assert aligned.vocals == "separated by counting-test" and CountingVoice.calls == 1
    assert [e.reason for e in report.entries] == [  # a stem model hearing separated vocals: one warning
        "was trained on vocal stems and now hears vocals separated by counting-test (digest 00000000000000d1); it "
        "may transcribe less well"
    ]


def test_the_recipes_hear_spleeter_by_default():
    from songalign.runs import recipe_path
    from songalign.transcribe.train import load_recipe

    assert load_recipe(recipe_path("alt_small")).model.vocals == "spleeter"
    assert load_recipe(recipe_path("alt")).model.vocals == "spleeter"
    assert load_recipe(recipe_path("alt_small"), ["model.vocals=stem"]).model.vocals == "stem"  # the ablation


def test_training_separates_each_song_once_and_its_card_records_the_separator(counting, tmp_path):
    from songalign.checkpoint import read_card
    from songalign.corpus.prepare import SplitConfig, prepare_corpus
    from songalign.corpus.testing import FakeSong, write_jamendo_corpus
    from songalign.runs import recipe_path
    from songalign.transcribe.testing import tiny_overrides
    from songalign.transcribe.train import load_recipe, train

    songs = [FakeSong(name, [[("la la la", 1.0, 3.0), ("oh oh", 4.0, 6.0)]], duration=8.0) for name in ("a", "b")]
    write_jamendo_corpus(tmp_path / "raw", songs)
    split = SplitConfig(train=0.5, val=0.5, test=0.0)
    prepare_corpus("jamendo", tmp_path / "raw", tmp_path / "corpus", split=split, progress=False)
    settings = [*tiny_overrides(), "train.threads=1", "train.epochs=1", "train.min_epochs=1", "model.mode=baseline"]
    recipe = load_recipe(recipe_path("alt_small"), [f"data.corpus={tmp_path / 'corpus'}", f"out={tmp_path / 'run'}",
                                                    "model.vocals=counting-test", *settings])  # fmt: skip
    card = read_card(train(recipe, progress=False))
    assert card["data"]["vocals"] == "counting-test"
    assert card["data"]["separator"] == {"name": "counting-test", "model": "", "digest": "00000000000000d1"}
    assert CountingVoice.calls == 2 and len(_entries(counting)) == 2  # one train song, one validation song


# -- the channel is checked once, before any song is read ----------------------------------------------------


class BrokenSeparator:
    """A separator that cannot be built here, as Spleeter without its wheel."""

    def __init__(self, model: str | None = None) -> None:
        raise SongalignError("the broken-test separator needs its weights: pip install broken-test-weights")


class UndigestedVoice(ScaledVoice):
    """A plugin separator without a ``digest``: nothing tells its weights apart, so nothing of it is cached."""

    digest = None


@pytest.fixture
def plugins(tmp_path, register_separator):
    register_separator("broken-test", BrokenSeparator)
    register_separator("undigested-test", UndigestedVoice)
    return tmp_path / "cache"


BROKEN = "cannot be heard: the broken-test separator needs its weights: pip install broken-test-weights"


def two_song_corpus(root):
    from songalign.corpus.prepare import SplitConfig, prepare_corpus
    from songalign.corpus.testing import FakeSong, write_jamendo_corpus

    songs = [FakeSong(name, [[("la la la", 1.0, 3.0), ("oh oh", 4.0, 6.0)]], duration=8.0) for name in ("a", "b")]
    write_jamendo_corpus(root / "raw", songs)
    split = SplitConfig(train=0.5, val=0.5, test=0.0)
    prepare_corpus("jamendo", root / "raw", root / "corpus", split=split, progress=False)
    return root / "corpus"


def test_check_channel_says_in_one_sentence_what_cannot_be_heard(plugins, tmp_path):
    check_channel("mix", "x")
    check_channel("stem", "x")
    check_channel("broken-test", "model.vocals=broken-test", build=False)  # the cheap check: a registered name
    with pytest.raises(SongalignError) as raised:
        check_channel("broken-test", "model.vocals=broken-test")
    assert str(raised.value) == f"model.vocals=broken-test {BROKEN}"
    stem = write_audio(tmp_path / "voice.wav", 0.5)
    check_channel(str(stem), "--vocals voice.wav", stem_file=True)  # one audio file and its stem
    with pytest.raises(SongalignError) as raised:
        check_channel(str(stem), "model.vocals=voice.wav", remedy="set model.vocals to spleeter, stem or mix")
    said = str(raised.value)  # the registered names: this test's and any other test's plugins
    assert re.fullmatch(
        r"model\.vocals=voice\.wav is neither 'mix', 'stem', a registered separator \(broken-test, (\S+, )*open-unmix, "
        r"(\S+, )*spleeter, (\S+, )*undigested-test; NAME or NAME:MODEL\) nor an existing open-unmix model folder; "
        r"set model\.vocals to spleeter, stem or mix",
        said,
    ), said


def test_training_evaluation_and_cleansing_refuse_a_channel_that_cannot_be_heard_before_any_song(plugins, tmp_path):
    from songalign.errors import SKIPPED_FILE
    from songalign.runs import recipe_path
    from songalign.transcribe.cleanse import pitch_reference
    from songalign.transcribe.evaluate import evaluate_transcriber
    from songalign.transcribe.testing import save_tiny_transcriber, tiny_overrides
    from songalign.transcribe.train import load_recipe, train

    corpus = two_song_corpus(tmp_path)
    settings = [f"data.corpus={corpus}", f"out={tmp_path / 'run'}", *tiny_overrides(), "train.threads=1"]
    recipe = load_recipe(recipe_path("alt_small"), [*settings, "model.vocals=broken-test"])
    with pytest.raises(SongalignError) as raised:
        train(recipe, progress=False)
    assert str(raised.value) == f"model.vocals=broken-test {BROKEN}"  # not "prepare a corpus with timed words"
    assert not (tmp_path / "run" / SKIPPED_FILE).exists()  # no song was read, so none was skipped
    with pytest.raises(SongalignError, match=r"^\S+alt_small.yaml: model.vocals=\S+gone is neither 'mix', 'stem'"):
        load_recipe(recipe_path("alt_small"), [*settings, f"model.vocals={tmp_path / 'gone'}"])

    model = save_tiny_transcriber(tmp_path / "model", "multitask", vocals="broken-test")
    with pytest.raises(SongalignError) as raised:
        evaluate_transcriber(model, corpus, split="all")
    assert str(raised.value) == f"the vocal channel broken-test of {model} {BROKEN}"
    with pytest.raises(SongalignError) as raised:
        evaluate_transcriber(model, corpus, split="all", vocals="broken-test:other")
    assert str(raised.value) == f"--vocals broken-test:other {BROKEN}"
    with pytest.raises(SongalignError) as raised:
        pitch_reference("model", model=model)
    assert str(raised.value) == f"the vocal channel broken-test of {model} {BROKEN}"
    with pytest.raises(SongalignError) as raised:
        pitch_reference("basic-pitch", vocals="broken-test")
    assert str(raised.value) == f"--vocals broken-test {BROKEN}"


def test_a_separator_without_a_digest_is_neither_in_the_feature_cache_nor_the_separation_cache(plugins, tmp_path):
    from songalign.audio.cache import FeatureCache
    from songalign.corpus.manifest import CorpusManifest
    from songalign.transcribe.model import TranscriberConfig
    from songalign.transcribe.train import cached_song_features

    assert separator_card("undigested-test") == {"name": "undigested-test", "model": "", "digest": ""}
    song = CorpusManifest.load(two_song_corpus(tmp_path)).songs[0]
    features_cache = FeatureCache(tmp_path / "features")
    config = TranscriberConfig(vocals="undigested-test")
    first = cached_song_features(song, config, features_cache)
    second = cached_song_features(song, config, features_cache)
    assert UndigestedVoice.calls == 2  # heard again: no entry stands for weights nothing tells apart
    torch = pytest.importorskip("torch")
    assert torch.equal(first, second)
    assert _entries(tmp_path / "features") == [] and _entries(plugins / SEPARATED_FOLDER) == []
    mix_config = TranscriberConfig(vocals="mix")  # while a channel without a separator is cached as before
    cached_song_features(song, mix_config, features_cache)
    assert len(_entries(tmp_path / "features")) == 1
