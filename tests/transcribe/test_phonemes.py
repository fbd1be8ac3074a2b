"""Phoneme targets and alignment in any language espeak-ng speaks (songalign.transcribe.phonemes)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.synth.voice import SAMPLE_RATE, Espeak
from songalign.corpus.testing import write_audio
from songalign.errors import SongalignError
from songalign.transcribe.align import align_lyrics
from songalign.transcribe.phonemes import (
    PHONEME_SYMBOLS,
    PHONEMES,
    PhonemeSpelling,
    TimedPhoneme,
    check_language,
    frame_targets,
    ipa_symbols,
    languages,
    phoneme_indices,
    phonemize,
    timed_phonemes,
    unknown_characters,
)
from songalign.transcribe.symbols import BLANK_INDEX, SYMBOLS
from songalign.transcribe.trust import align_scored

# What `espeak-ng -q --ipa -v LANG "SENTENCE"` prints (eSpeak NG 1.51, Debian's package; the bundled library is
# 1.52 and must agree on these), clauses joined by a space.
ESPEAK_CLI = {
    "en": ("The cat's cold hands, don't stop", "ðə kˈats kˈəʊld hˈandz dˈəʊnt stˈɒp"),
    "fr": ("Les amis de l'amour chantent à minuit.", "le-z amˈi də- lamˈuʁ ʃˈɑ̃tt a minyˈi"),
    "es": ("El corazón canta bajo la luna.", "el kˌoɾaθˈon kˈanta βˌaxo la lˈuna"),
    "de": ("Die Nacht ist kalt und schön.", "diː nˈaxt ɪst kˈalt ʊnt ʃˈøːn"),
}


def test_the_inventory_is_one_list_with_the_blank_first():
    assert PHONEME_SYMBOLS[0] == SYMBOLS[BLANK_INDEX]
    assert len(set(PHONEME_SYMBOLS)) == len(PHONEME_SYMBOLS) == len(PHONEMES) + 1
    assert {"ɑ̃", "ʃ", "θ", "ʁ", "ɡ", "ʲ", "ˈ", "ː"} <= set(PHONEMES)
    assert PHONEMES[-3:] == ("ˈ", "ˌ", "ː")  # the marks last: a folded model never writes them


def test_ipa_symbols_fold_stress_length_tone_and_spelling_variants():
    assert ipa_symbols("ʃˈɑ̃tt") == ["ʃ", "ɑ̃", "t", "t"]  # the nasal vowel is one symbol
    assert ipa_symbols("ʃˈɑ̃tt", keep_stress=True) == ["ʃ", "ˈ", "ɑ̃", "t", "t"]
    assert ipa_symbols("dˈiːp") == ["d", "i", "p"]
    assert ipa_symbols("dˈiːp", keep_length=True) == ["d", "i", "ː", "p"]
    assert ipa_symbols("dˈiˑp", keep_stress=True, keep_length=True) == ["d", "ˈ", "i", "ː", "p"]
    assert ipa_symbols("ni2χˈɑu2 s.ˈi.5") == ["n", "i", "χ", "ɑ", "u", "s", "i"]  # tones and dots dropped
    assert ipa_symbols("gʦεn̪t̩-") == ["ɡ", "t", "s", "ɛ", "n", "t"]  # g, ligature, Greek ε; diacritics dropped
    assert ipa_symbols("prʲivʲˈet") == ["p", "r", "ʲ", "i", "v", "ʲ", "e", "t"]  # palatalisation is a symbol
    assert unknown_characters("kˈSaF2ː") == ["S", "F"]  # espeak's ASCII names, dropped
    assert phoneme_indices(["a", "ɑ̃"]) == [PHONEME_SYMBOLS.index("a"), PHONEME_SYMBOLS.index("ɑ̃")]


@pytest.mark.parametrize("language", sorted(ESPEAK_CLI))
def test_phonemes_of_a_known_sentence_are_espeak_ng_s_own(language):
    sentence, printed = ESPEAK_CLI[language]
    expected = [ipa_symbols(word) for word in printed.split()]
    (words,) = phonemize([sentence], language)
    assert words == expected
    with Espeak(language) as espeak:  # the second path: espeak_TextToPhonemes, as the CLI prints it
        assert " ".join(espeak.text_to_phonemes(sentence)) == printed
    (kept,) = phonemize([sentence], language, keep_stress=True, keep_length=True)
    assert kept == [ipa_symbols(word, keep_stress=True, keep_length=True) for word in printed.split()]


def test_a_number_read_as_two_words_and_a_dash_keep_their_written_words():
    (words,) = phonemize(["I sing 23 — songs"], "en")
    assert len(words) == 5
    assert words[2] == ipa_symbols("twˈɛnti θɹˈiː")  # espeak's two WORD events, one written word
    assert words[3] == []  # nothing spoken for the dash
    assert words[4] == ipa_symbols("sˈɒŋz")


def test_a_language_espeak_lacks_is_one_sentence_naming_the_list():
    with pytest.raises(SongalignError, match=r"no language 'xx'; `songalign transcribe languages` lists"):
        check_language("xx")
    assert check_language("PT-BR") == "pt-br"
    spoken = languages()
    assert {"en", "fr", "es", "de", "it", "pt", "ru", "cmn", "ja", "hi", "nb"} <= set(spoken)
    assert spoken["fr"] == "French (France)"
    assert "fo" not in spoken  # a voice whose dictionary the wheel lacks
    with pytest.raises(SongalignError, match="no language 'klingonese'"):
        PhonemeSpelling("klingonese")


def test_phoneme_events_are_ordered_cover_the_words_and_leave_the_audio_alone():
    text = "Les amis chantent à minuit"
    with Espeak("fr") as plain:
        heard = plain.synthesize(text, pitch=50, rate=150)
    with Espeak("fr", phoneme_events=True) as espeak:
        utterance = espeak.synthesize(text, pitch=50, rate=150)
    np.testing.assert_array_equal(utterance.samples, heard.samples)
    assert utterance.word_starts == heard.word_starts

    timed = timed_phonemes(text, utterance, SAMPLE_RATE)
    starts = [p.start for p in timed]
    assert starts == sorted(starts) and all(p.end > p.start for p in timed)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(timed, timed[1:], strict=False) if a.word == b.word)
    words = [p.word for p in timed]
    assert sorted(set(words)) == [0, 1, 2, 3, 4] and words == sorted(words)
    word_starts = [s / SAMPLE_RATE for s in utterance.word_starts] + [utterance.end / SAMPLE_RATE]
    for index in range(5):
        own = [p for p in timed if p.word == index]
        assert word_starts[index] <= own[0].start < word_starts[index + 1]
        assert own[-1].end <= utterance.end / SAMPLE_RATE
    (spelt,) = phonemize([text], "fr")
    assert [[p.symbol for p in timed if p.word == i] for i in range(5)] == spelt


def test_frame_targets_hold_the_symbol_sounding_at_each_frame():
    phonemes = [TimedPhoneme("a", 0.0, 0.07, 0), TimedPhoneme("t", 0.07, 0.1, 0), TimedPhoneme("ɛ̃", 0.2, 0.25, 1)]
    a, t, nasal = (PHONEME_SYMBOLS.index(s) for s in ("a", "t", "ɛ̃"))
    # frames at 0, 0.032, 0.064, 0.096, 0.128, 0.160, 0.192, 0.224, 0.256 s
    assert frame_targets(phonemes, 9, 0.032).tolist() == [a, a, a, t, 0, 0, 0, nasal, 0]
    # the phonemes' time 0 at 0.11 s of the clip: a 0.11-0.18, t 0.18-0.21, ɛ̃ 0.31-0.36; frames every 0.05 s
    assert frame_targets(phonemes, 8, 0.05, offset=0.11).tolist() == [0, 0, 0, a, t, 0, 0, nasal]


# -- alignment on phoneme emissions -------------------------------------------------------------------------

SECONDS = 0.032
KNOWN_LINES = {  # the sentences of ESPEAK_CLI, each word's phonemes folded by hand from what the CLI prints
    "fr": [["l", "e", "z"], ["a", "m", "i"], ["d", "ə"], ["l", "a", "m", "u", "ʁ"], ["ʃ", "ɑ̃", "t", "t"], ["a"],
           ["m", "i", "n", "y", "i"]],
    "es": [["e", "l"], ["k", "o", "ɾ", "a", "θ", "o", "n"], ["k", "a", "n", "t", "a"], ["β", "a", "x", "o"],
           ["l", "a"], ["l", "u", "n", "a"]],
}  # fmt: skip


def built_emissions(words: list[list[str]]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """CTC log-probabilities ``(T, len(PHONEME_SYMBOLS))`` in which each phoneme sounds for 2 or 3 frames (the
    blank between words for 3 + word index frames, and between a doubled phoneme), and each word's times."""
    frames: list[int] = [BLANK_INDEX] * 5
    times = []
    for index, word in enumerate(words):
        first = len(frames)
        for k, symbol in enumerate(word):
            if k and word[k - 1] == symbol:
                frames.append(BLANK_INDEX)
            frames += [PHONEME_SYMBOLS.index(symbol)] * (2 + k % 2)
        times.append((first * SECONDS, len(frames) * SECONDS))
        frames += [BLANK_INDEX] * (3 + index)
    others = math.log(0.1 / (len(PHONEME_SYMBOLS) - 1))
    log_probs = np.full((len(frames), len(PHONEME_SYMBOLS)), others)
    log_probs[np.arange(len(frames)), frames] = math.log(0.9)
    return log_probs, times


@pytest.mark.parametrize("language", ["fr", "es"])
def test_a_line_aligned_on_emissions_from_known_phoneme_times_comes_back_at_those_times(language):
    sentence = ESPEAK_CLI[language][0]
    log_probs, times = built_emissions(KNOWN_LINES[language])
    spelling = PhonemeSpelling(language)
    scored = align_scored(log_probs, [sentence], emission_seconds=SECONDS, spelling=spelling)
    (line,) = scored.lines
    assert [w.text for w in line.words] == sentence.split()
    for word, (start, end) in zip(line.words, times, strict=True):
        assert word.start == pytest.approx(start, abs=1e-9) and word.end == pytest.approx(end, abs=1e-9)
        # the geometric mean of the probability the emissions give the word's phonemes where they sound: 0.9 each
        assert word.confidence == pytest.approx(0.9)
    assert (line.start, line.end) == (pytest.approx(times[0][0]), pytest.approx(times[-1][1]))
    aligned = align_lyrics(log_probs, [sentence], SECONDS, offset=1.0, spelling=spelling)
    assert [w.start for w in aligned.words] == pytest.approx([start + 1.0 for start, _ in times])


def test_a_word_without_phonemes_is_unplaced_and_letters_emissions_are_refused():
    log_probs, times = built_emissions([["l", "a"], ["l", "a"]])
    scored = align_scored(log_probs, ["la —", "la"], emission_seconds=SECONDS, spelling=PhonemeSpelling("es"))
    assert scored.lines[0].words[1].start is None
    assert scored.lines[1].start == pytest.approx(times[1][0])
    with pytest.raises(SongalignError, match="no phonemes in the lyrics"):
        align_scored(log_probs, ["— …"], spelling=PhonemeSpelling("es"))
    letters = np.zeros((40, len(SYMBOLS)))
    with pytest.raises(SongalignError, match=f"give {len(SYMBOLS)} symbols per frame but lyrics spelt in phonemes"):
        align_scored(letters, ["la la"], spelling=PhonemeSpelling("es"))


# -- a phoneme model through `transcribe align --language` ----------------------------------------------------


@pytest.fixture(scope="module")
def phoneme_model(tmp_path_factory):
    import torch

    from songalign.transcribe.model import Transcriber, TranscriberConfig
    from songalign.transcribe.testing import TINY_NETWORK

    torch.manual_seed(0)
    network = TINY_NETWORK.model_copy(update={"symbols": "phonemes"})
    model = Transcriber(TranscriberConfig(mode="baseline", vocals="mix", network=network))
    return model.save_pretrained(tmp_path_factory.mktemp("phonemes") / "model", {"name": "tiny-phonemes"})


def test_transcribe_align_times_french_lyrics_with_a_phoneme_model(phoneme_model, tmp_path):
    import torch

    torch.set_num_threads(1)
    audio = write_audio(tmp_path / "chanson.wav", 4.0)
    lyrics = tmp_path / "paroles.txt"
    lyrics.write_text("Les amis chantent\n\nà minuit — ♪\n", encoding="utf-8")
    runner = CliRunner()
    args = ["transcribe", "align", str(audio), str(lyrics), "--model", str(phoneme_model), "--format", "json"]
    unknown = runner.invoke(app, [*args, "--language", "xx"])
    assert isinstance(unknown.exception, SongalignError) and "transcribe languages" in str(unknown.exception)
    assert not (tmp_path / "chanson.json").exists()

    result = runner.invoke(app, [*args, "--language", "fr"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "chanson.json").read_text(encoding="utf-8"))
    lines = document["lines"]
    assert [line["text"] for line in lines] == ["Les amis chantent", "à minuit — ♪"]
    timed = [word for line in lines for word in line["words"] if word["start"] is not None]
    assert [word["text"] for word in timed] == ["Les", "amis", "chantent", "à", "minuit"]
    assert all(0 <= w["start"] <= w["end"] <= 4.0 for w in timed)
    assert [w["start"] for w in timed] == sorted(w["start"] for w in timed)


def test_a_phoneme_model_neither_transcribes_nor_scores_in_one_sentence(phoneme_model):
    from songalign.transcribe.backends import CrnnBackend, Sound

    backend = CrnnBackend(phoneme_model)
    sound = Sound(np.zeros(16000, dtype=np.float32))
    with pytest.raises(SongalignError, match="writes phonemes, so it aligns lyrics"):
        backend.transcribe(sound)
    with pytest.raises(SongalignError, match="cannot score candidate lyrics"):
        backend.score(sound, ["la la"])
