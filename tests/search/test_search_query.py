"""Queries on a real LanceDB index: by text, by audio clip, by song; filters; k; scores and timestamps."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from songalign.audio.io import load_audio
from songalign.errors import SongalignError
from songalign.search import Filters, SongSearch
from songalign.search.store import sql_string
from songalign.search.testing import indexed_window


def test_text_finds_the_segment_whose_lyrics_it_quotes(song_search):
    row = song_search.store.get("song3-0001")
    hits = song_search.by_text(row["lyrics"], k=3, target="lyrics")
    assert [h.segment_id for h in hits][0] == "song3-0001" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].title == "Slow River" and hits[0].artist == "Quiet Hands"
    assert (hits[0].start, hits[0].end) == pytest.approx((15.0, 23.1))
    assert hits[0].labels["emotion"] == "love" and "love" in hits[0].description


def test_text_to_audio_returns_k_results_best_first(song_search):
    hits = song_search.by_text("a lonely night full of tears", k=5)
    assert len(hits) == 5 and len({h.segment_id for h in hits}) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)
    query = song_search.embed_text("a lonely night full of tears")
    vectors = song_search.store.vectors("id = " + sql_string(hits[0].segment_id))
    assert hits[0].score == pytest.approx(float(vectors[0] @ query), abs=1e-5)  # the score is the cosine
    assert len(song_search.by_text("anything", k=50, group="segment")) == 12
    assert len(song_search.by_text("anything", k=50)) == 6  # grouped by song (the default): k counts songs


def test_a_clip_finds_its_own_song_and_lyrics(song_search, search_corpus, tmp_path):
    audio, rate = indexed_window(song_search, "song2-0000")
    sf.write(tmp_path / "clip.wav", audio, rate)
    similar = song_search.by_audio(tmp_path / "clip.wav", k=2, target="audio", group="segment")
    assert [h.segment_id for h in similar] == ["song2-0000", "song2-0001"] and similar[0].score > 0.99
    lines = song_search.by_audio(tmp_path / "clip.wav", k=4, target="lyrics", group="segment")
    assert len(lines) == 4 and all(h.lyrics for h in lines)
    resampled, _ = load_audio(tmp_path / "clip.wav", 16000)
    from_array = song_search.by_audio(resampled, k=2, target="audio", sample_rate=16000, group="segment")
    assert [h.segment_id for h in from_array] == [h.segment_id for h in similar]


def test_more_like_this_returns_other_songs_once_each(song_search):
    hits = song_search.by_song("song0", k=4)
    assert len(hits) == 4 and "song0" not in {h.song_id for h in hits}
    assert len({h.song_id for h in hits}) == 4
    assert len(song_search.by_song("song0", k=10)) == 5  # only five other songs exist
    french = song_search.by_song("song0", k=10, filters=Filters(language="french"))
    assert {h.song_id for h in french} == {"song4", "song5"}


def test_filters_restrict_every_query(song_search):
    assert {h.language for h in song_search.by_text("rain", k=12, filters=Filters(language="french"))} == {"french"}
    assert {h.song_id for h in song_search.by_text("rain", k=12, filters=Filters(song_id="song1"))} == {"song1"}
    joy = song_search.by_text("rain", k=12, filters=Filters(labels=("emotion=joy",)), group="segment")
    assert sorted(h.segment_id for h in joy) == ["song0-0000", "song0-0001", "song4-0000"]
    both = Filters(language="french", labels=("emotion=joy",))
    assert [h.segment_id for h in song_search.by_audio(np.zeros(8000, np.float32), k=5, filters=both)] == ["song4-0000"]
    grouped_joy = song_search.by_text("rain", k=12, filters=Filters(labels=("emotion=joy",)))
    assert sorted(h.song_id for h in grouped_joy) == ["song0", "song4"]  # folding keeps to the filter too
    assert {o.segment_id for h in grouped_joy for o in h.other_segments} <= {"song0-0000", "song0-0001"}
    assert song_search.by_text("rain", k=3, filters=Filters(song_id="no such song")) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=30))
def test_filter_values_are_quoted_whatever_they_hold(song_search, value):
    """Quotes, backslashes, SQL and Unicode in a filter value only ever match that exact value."""
    hits = song_search.by_vector(
        np.ones(16, np.float32), k=3, filters=Filters(song_id=value, labels=(f"emotion={value}",))
    )
    assert hits == []


def test_queries_refuse_bad_input_with_one_clear_sentence(song_search, search_db, tmp_path):
    with pytest.raises(SongalignError, match="text query is empty"):
        song_search.by_text("   ")
    with pytest.raises(SongalignError, match="k must be a whole number of results from 1 to"):
        song_search.by_text("joy", k=0)
    with pytest.raises(SongalignError, match="no song with id 'nope'"):
        song_search.by_song("nope")
    with pytest.raises(SongalignError, match="label filter 'joy' must look like key=value"):
        song_search.by_text("joy", filters=Filters(labels=("joy",)))
    with pytest.raises(SongalignError, match="not found"):
        song_search.by_audio(tmp_path / "nothing.wav")
    with pytest.raises(SongalignError, match="did not build .* pass that model with --model"):
        other = song_search.model.save_pretrained(tmp_path / "m", card={"name": "other"})
        (other / "config.json").write_text((other / "config.json").read_text().replace("4.0", "4.5"))
        SongSearch.open(search_db, model=other)


def test_open_loads_the_model_recorded_in_the_index(search_db, song_search):
    reopened = SongSearch.open(search_db)
    query = "sunshine dancing golden morning"
    assert [h.segment_id for h in reopened.by_text(query, k=3)] == [
        h.segment_id for h in song_search.by_text(query, k=3)
    ]
    info = reopened.info()
    assert info == {
        **info,
        "segments": 12,
        "languages": ["english", "french"],
        "model_name": "tiny-search",
        "ann_index": False,
    }
