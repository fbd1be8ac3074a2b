"""Results grouped by song (the default) against plain segments, in the query API and the service."""

from __future__ import annotations

import httpx
import pytest

from songalign.errors import SongalignError
from songalign.search.query import group_by_song


def test_k_songs_each_its_best_segment_with_the_others_folded_in_score_order(song_search):
    query = "tears falling lonely night verse1"
    plain = song_search.by_text(query, k=12, target="lyrics", group="segment")
    grouped = song_search.by_text(query, k=3, target="lyrics")
    assert len(grouped) == 3 and len({h.song_id for h in grouped}) == 3
    assert [h.segment_id for h in grouped] == [h.segment_id for h in group_by_song(plain, 3)]
    assert grouped[0].segment_id == "song1-0001"  # it quotes verse 2 of song 1; verse 1 is folded under it
    for hit in grouped:
        of_song = [h for h in plain if h.song_id == hit.song_id]
        assert hit.segment_id == of_song[0].segment_id and hit.score == pytest.approx(of_song[0].score, abs=1e-6)
        assert [o.segment_id for o in hit.other_segments] == [h.segment_id for h in of_song[1:]]
        assert [o.score for o in hit.other_segments] == pytest.approx([h.score for h in of_song[1:]], abs=1e-6)
        assert [(o.start, o.end) for o in hit.other_segments] == [(h.start, h.end) for h in of_song[1:]]
    scores = [h.score for h in grouped]
    assert scores == sorted(scores, reverse=True)
    # plainly, one song can fill the top 2: grouped, never
    assert [h.song_id for h in plain[:2]] == ["song1", "song1"]
    with pytest.raises(SongalignError, match="group must be 'song'"):
        song_search.by_text(query, group="album")


def test_more_like_this_is_grouped_and_leaves_the_song_out(song_search):
    grouped = song_search.by_song("song0", k=3)
    assert len({h.song_id for h in grouped}) == 3 and "song0" not in {h.song_id for h in grouped}
    assert all(len(h.other_segments) == 1 for h in grouped)  # each other song has two segments
    plain = song_search.by_song("song0", k=10, group="segment")
    assert len(plain) == 10 and "song0" not in {h.song_id for h in plain}


def test_the_service_groups_by_song_unless_asked_for_segments(live_url, song_search):
    with httpx.Client(timeout=30, verify=False) as client:
        body = {"text": "tears falling lonely night verse1", "k": 3, "target": "lyrics"}
        grouped = client.post(f"{live_url}/api/search/text", json=body).json()
        plain = client.post(f"{live_url}/api/search/text", json={**body, "k": 12, "group": "segment"}).json()
        assert grouped["query"]["group"] == "song" and plain["query"]["group"] == "segment"
        results = grouped["results"]
        assert len(results) == 3 and len({r["song_id"] for r in results}) == 3
        best = results[0]
        assert best["segment_id"] == "song1-0001" and best["score"] == plain["results"][0]["score"]
        (other,) = best["other_segments"]
        assert other["segment_id"] == "song1-0000" and other["audio_url"] == "/api/segments/song1-0000/audio"
        assert other["score"] == next(r["score"] for r in plain["results"] if r["segment_id"] == "song1-0000")
        assert client.get(f"{live_url}{other['audio_url']}").headers["X-Segment-Start"] == "1.000000"
        assert [r["song_id"] for r in plain["results"][:2]] == ["song1", "song1"]
        assert all(r["other_segments"] == [] for r in plain["results"])

        similar = client.get(f"{live_url}/api/songs/song0/similar", params={"k": 2}).json()
        assert similar["query"]["group"] == "song" and len({r["song_id"] for r in similar["results"]}) == 2
        assert "song0" not in {r["song_id"] for r in similar["results"]}
        assert all(len(r["other_segments"]) == 1 for r in similar["results"])
        segments = client.get(f"{live_url}/api/songs/song0/similar", params={"k": 4, "group": "segment"}).json()
        assert len(segments["results"]) == 4 and all(r["other_segments"] == [] for r in segments["results"])
        bad = client.post(f"{live_url}/api/search/text", json={**body, "group": "album"})
        assert bad.status_code == 422 and "group" in str(bad.json()["detail"])
