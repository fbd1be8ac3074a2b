"""A phoneme transcriber: CTC targets from a sung corpus's phoneme times (or espeak-ng's reading of the lyrics),
trained on a tiny French and Spanish corpus, scored with its lyrics spelt in each song's language."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from songalign.checkpoint import read_card
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.records import Line, Song, Word
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import synthesize_corpus
from songalign.runs import recipe_path
from songalign.transcribe.data import SILENCE, collate, cut_clip, cut_clips, song_targets, word_phonemes
from songalign.transcribe.decode import greedy_phonemes, greedy_tokens
from songalign.transcribe.evaluate import evaluate_transcriber
from songalign.transcribe.metrics import phoneme_error_rate
from songalign.transcribe.model import Transcriber
from songalign.transcribe.networks import NetworkConfig
from songalign.transcribe.phonemes import PHONEME_SYMBOLS, language_code, song_language
from songalign.transcribe.symbols import SYMBOLS
from songalign.transcribe.testing import tiny_overrides
from songalign.transcribe.train import LossWeights, load_recipe, train, transcription_loss

PHONEMES = NetworkConfig(symbols="phonemes")


def ids(*symbols: str) -> list[int]:
    return [PHONEME_SYMBOLS.index(s) for s in symbols]


def la_mer(**extra) -> Song:
    """ "la mer" sung from 0.17 s to 1.03 s with its phoneme times; "aː" is one espeak phoneme (length folded)."""
    rows = [
        {"start": 0.17, "end": 0.25, "ipa": "l", "word": 0},
        {"start": 0.25, "end": 0.47, "ipa": "aː", "word": 0},
        {"start": 0.65, "end": 0.70, "ipa": "m", "word": 1},
        {"start": 0.70, "end": 0.95, "ipa": "ɛ", "word": 1},
        {"start": 0.95, "end": 1.03, "ipa": "ʁ", "word": 1},
    ]
    return Song(
        id="la-mer",
        language="french",
        words=[Word("la", 0.17, 0.47, line=0), Word("mer", 0.65, 1.03, line=0)],
        lines=[Line("la mer", 0.17, 1.03)],
        extra={"language_code": "fr", "phonemes": rows, **extra},
    )


def test_phoneme_targets_come_from_the_annotated_phonemes_at_hand_computed_frames():
    mel = torch.zeros(2, 80, 80)  # 80 frames of 16 ms: 1.28 s
    targets = song_targets(la_mer(), mel, PHONEMES)
    # frames of 16 ms: "la" floor(0.17 / 0.016) = 10 to ceil(0.47 / 0.016) = 30; "mer" 40 to ceil(64.375) = 65
    assert targets.words == [(10, 30, ids("l", "a")), (40, 65, ids("m", "ɛ", "ʁ"))]
    assert targets.text == "l a m ɛ ʁ" and targets.separator is None
    assert targets.word_starts.tolist() == [0.17, 0.65]
    kept = song_targets(la_mer(), mel, NetworkConfig(symbols="phonemes", keep_length=True))
    assert kept.words[0][2] == ids("l", "a", "ː")

    assert cut_clip(targets, 0, 80).tokens == ids("l", "a", "m", "ɛ", "ʁ")  # no separator between sung words
    cut = cut_clip(targets, 0, 50)  # "mer" (frames 40-65) is cut: left out of the target and silenced
    assert cut.tokens == ids("l", "a")
    assert bool((cut.mel[..., 40:50] == SILENCE).all()) and bool((cut.mel[..., :40] == 0).all())

    letters = song_targets(la_mer(), mel)  # the same song for a character model: letters and a space
    assert cut_clip(letters, 0, 80).tokens == [SYMBOLS.index(c) for c in "la mer"]


def test_a_song_without_phoneme_times_is_read_by_espeak_in_its_language():
    song = la_mer()
    song.extra.pop("phonemes")
    assert word_phonemes(song, PHONEMES) == [["l", "a"], ["m", "ɛ", "ʁ"]]
    german = Song(id="nacht", language="German", words=[Word("die", 0.5, 0.8, 0), Word("Nacht", 0.9, 1.5, 0)])
    assert song_language(german) == "de" and language_code("english") == "en"
    assert word_phonemes(german, PHONEMES) == [["d", "i"], ["n", "a", "x", "t"]]


def test_greedy_phonemes_and_the_phoneme_error_rate():
    frames = ids("l", "l") + [0] + ids("a", "m") + [0, 0] + ids("m")  # "l" held, "m" twice with a blank between
    log_probs = np.full((len(frames), len(PHONEME_SYMBOLS)), -9.0)
    log_probs[np.arange(len(frames)), frames] = 0.0
    assert greedy_tokens(log_probs, len(PHONEME_SYMBOLS)) == ids("l", "a", "m", "m")
    assert greedy_phonemes(log_probs) == "l a m m"
    rate = phoneme_error_rate(["l a m ɛ ʁ", "ʃ ɑ̃"], ["l a m m", "ʃ ɑ̃ t"])
    # song 1: ɛ → m, ʁ deleted (2 of 5); song 2: t inserted (1 of 2); the accented symbols are not normalised away
    assert (rate.substitutions, rate.deletions, rate.insertions, rate.hits) == (1, 1, 1, 5)
    assert rate.corpus == pytest.approx(3 / 7) and rate.song_mean == pytest.approx((2 / 5 + 1 / 2) / 2)


def test_a_phoneme_model_that_knows_nothing_scores_a_phoneme_error_rate_of_one():
    uniform = np.full((40, len(PHONEME_SYMBOLS)), -math.log(len(PHONEME_SYMBOLS)))  # every symbol alike, every frame
    heard = greedy_phonemes(uniform)
    assert heard == ""  # ties go to the first symbol, the blank: nothing is written
    rate = phoneme_error_rate(["l a m ɛ ʁ", "ʃ ɑ̃"], [heard, heard])
    assert (rate.deletions, rate.hits) == (7, 0) and rate.corpus == 1.0 and rate.song_mean == 1.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("phoneme_corpus")
    synthesize_corpus(root / "synth", n_songs=4, seed=4, workers=1, duration=16.0, stems=True, languages=["fr", "es"])
    split = SplitConfig(train=0.5, val=0.25, test=0.25, seed=1)
    prepare_corpus("jamendo", root / "synth", root / "corpus", split=split, progress=False)
    return root / "corpus"


def test_a_tiny_phoneme_model_trains_on_a_french_and_spanish_corpus_and_aligns_each_song_in_its_language(
    corpus, tmp_path
):
    torch.set_num_threads(1)
    overrides = [f"data.corpus={corpus}", f"out={tmp_path / 'run'}", *tiny_overrides(lyrics_hidden=16)]
    overrides += ["train.threads=1", "model.vocals=stem", "train.epochs=2", "train.min_epochs=1"]
    recipe = load_recipe(recipe_path("alt_phonemes_small"), overrides)
    assert recipe.model.network.symbols == "phonemes" and recipe.model.mode == "multitask"
    manifest = CorpusManifest.load(corpus)
    assert {song.extra["language_code"] for song in manifest.songs} == {"fr", "es"}

    folder = train(recipe, progress=False)
    card = read_card(folder)
    assert math.isfinite(card["evaluation"]["best_val/per"])
    assert not (folder / "lm.arpa").exists()  # a word LM has nothing to decode phonemes with
    model = Transcriber.from_pretrained(folder)
    assert model.config.network.symbols == "phonemes" and model.lyrics_net is not None and model.pitch_net is not None

    # the joint loss on phoneme targets: CTC with the pitch/onset terms, finite
    from songalign.audio.cache import FeatureCache
    from songalign.transcribe.train import cached_song_features

    song = manifest.songs[0]
    mel = cached_song_features(song, recipe.model, FeatureCache(corpus / ".cache" / "transcribe"))
    batch = collate(cut_clips(song_targets(song, mel, recipe.model.network), 250)[:2])
    assert int(batch.tokens.max()) < len(PHONEME_SYMBOLS) and int(batch.tokens.min()) > 0
    total, terms = transcription_loss(model, batch, LossWeights())
    assert set(terms) == {"ctc", "pitch", "onset"} and math.isfinite(float(total.detach()))

    result = evaluate_transcriber(folder, corpus, split="all")
    assert result.songs == len(manifest.songs) - len(card["data"]["trained_songs"]) and result.songs >= 1
    assert not result.wer and 0 <= result.per["greedy"]["corpus"]
    assert result.alignment["words"] == result.even_spread["words"] > 0 and not result.alignment_skipped


def test_the_folder_reader_times_french_txt_lyrics_with_a_phoneme_model_in_the_language_given(tmp_path):
    from songalign.corpus.readers.folder import read_folder
    from songalign.corpus.testing import write_audio
    from songalign.errors import SkipReport, SongalignError

    torch.manual_seed(0)
    from songalign.transcribe.model import TranscriberConfig
    from songalign.transcribe.testing import TINY_NETWORK

    network = TINY_NETWORK.model_copy(update={"symbols": "phonemes"})
    model = Transcriber(TranscriberConfig(mode="baseline", vocals="mix", network=network))
    folder = model.save_pretrained(tmp_path / "model", {"name": "tiny-phonemes"})
    songs = tmp_path / "songs"
    songs.mkdir()
    write_audio(songs / "Léa - La Mer.wav", 5.0)
    (songs / "Léa - La Mer.txt").write_text("La mer qu'on voit danser\nle long des golfes clairs\n", encoding="utf-8")

    with pytest.raises(SongalignError, match="espeak-ng speaks no language 'elvish'"):
        read_folder(songs, SkipReport(), aligner=folder, aligner_language="elvish")  # before any song is heard
    with pytest.raises(SongalignError, match="option aligner_language=fr is the lyrics' language for an aligner, but"):
        read_folder(songs, SkipReport(), aligner_language="fr")

    report = SkipReport()
    (song,) = read_folder(songs, report, aligner=folder, aligner_language="fr", languages=["fr"])
    assert song.language == "fr" and song.extra["aligned_by"]["language"] == "fr"
    assert [w.text for w in song.words] == "La mer qu'on voit danser le long des golfes clairs".split()
    starts = [w.start for w in song.words]
    assert starts == sorted(starts) and 0 <= starts[0] and song.words[-1].end <= 5.0


def test_a_phoneme_model_starts_from_a_character_model_s_weights_all_but_its_head(tmp_path):
    from songalign.errors import SongalignError
    from songalign.transcribe.model import TranscriberConfig
    from songalign.transcribe.testing import TINY_NETWORK, save_tiny_transcriber
    from songalign.transcribe.train import warm_start

    letters = save_tiny_transcriber(tmp_path / "letters", mode="multitask")
    torch.manual_seed(1)
    phonemes = Transcriber(
        TranscriberConfig(mode="multitask", network=TINY_NETWORK.model_copy(update={"symbols": "phonemes"}))
    )
    head = phonemes.lyrics_net.head.weight.detach().clone()
    fresh = warm_start(phonemes, letters)
    assert fresh == ["lyrics_net.head.bias", "lyrics_net.head.weight"]  # 29 symbols there, 156 here
    parent = Transcriber.from_pretrained(letters).state_dict()
    for name, tensor in phonemes.state_dict().items():
        if name not in fresh:
            torch.testing.assert_close(tensor, parent[name], rtol=0, atol=0)
    torch.testing.assert_close(phonemes.lyrics_net.head.weight, head, rtol=0, atol=0)

    pitch_only = Transcriber(TranscriberConfig(mode="pitch", network=TINY_NETWORK))  # no lyrics network
    lyrics_only = save_tiny_transcriber(tmp_path / "baseline", mode="baseline")  # no pitch network
    with pytest.raises(SongalignError, match="no weight of that transcriber has the name and shape of this recipe's"):
        warm_start(pitch_only, lyrics_only)


def test_the_phoneme_recipes_are_the_character_recipes_networks_writing_phonemes():
    for phonemes, letters in (("alt_phonemes_small", "alt_small"), ("alt_phonemes", "alt")):
        ours, theirs = load_recipe(recipe_path(phonemes)), load_recipe(recipe_path(letters))
        assert ours.model.network.symbols == "phonemes" and theirs.model.network.symbols == "characters"
        assert ours.model.network.model_copy(update={"symbols": "characters"}) == theirs.model.network
        assert ours.model.mode == "multitask" and ours.model.vocals == "spleeter"  # pitch/onset kept, separated vocals
        assert not ours.model.network.keep_stress and not ours.model.network.keep_length
