"""The search page in a real headless Chromium (Playwright driving Debian's ``chromium``): one search
by lyrics, playback of the matched segment and of the song's other segment folded under it, and a
search by uploaded audio."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest
import soundfile as sf

from songalign.search.testing import indexed_window

CHROMIUM = os.environ.get("SONGALIGN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = (
    None
    if CHROMIUM and os.access(CHROMIUM, os.X_OK)
    else "the browser test needs Chromium: `apt-get install -y chromium` (Debian), or SONGALIGN_CHROMIUM=/path/to/chrome"
)
if MISSING and os.environ.get("SONGALIGN_REQUIRE_BROWSER") == "1":  # CI sets this: a missing browser is a failure
    raise RuntimeError(MISSING)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def test_search_by_lyrics_then_play_the_segment_then_search_by_audio(live_url, song_search, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    target = song_search.segment("song2-0001")
    clip, rate = indexed_window(song_search, target.segment_id)
    sf.write(tmp_path / "my clip.wav", clip, rate)
    clip_bytes = len(httpx.get(f"{live_url}/api/segments/song2-0001/audio", verify=False).content)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_url}/")
            expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
            expect(page.locator("#language option")).to_have_count(3)  # any, english, french

            page.fill("#query", target.lyrics)
            page.select_option("#target", "lyrics")
            page.click("#search-button")
            first = page.locator("li.result").first
            expect(first).to_have_attribute("data-segment-id", "song2-0001", timeout=15_000)
            expect(page.locator("li.result")).to_have_count(6)  # grouped by song (the default): 6 songs
            expect(first.locator(".title")).to_have_text("Wildfire")
            expect(first.locator(".artist")).to_have_text("Red Static")
            expect(first.locator(".score")).to_have_text("score 1.000")
            expect(first.locator(".lyrics")).to_contain_text("burning rage broken glass verse1 2")
            expect(first.locator(".time")).to_contain_text("0:15.0–0:23.1")

            first.locator("button.play").click()
            expect(first).to_have_attribute("data-playing", "true", timeout=15_000)
            player = first.locator("audio")
            assert player.evaluate("a => a.duration") == pytest.approx(target.end - target.start, abs=0.01)
            page.wait_for_function("() => document.querySelector('li.result audio').currentTime > 0.1", timeout=15_000)
            assert int(player.get_attribute("data-bytes")) == clip_bytes == 44 + round(8.1 * 22050) * 2 * 2

            # the song's other segment, folded (collapsed) under its best one, and playable
            others = first.locator("details.others")
            expect(others.locator("summary")).to_have_text("1 more matching segment of this song")
            folded = others.locator("li.other")
            expect(folded).to_have_attribute("data-segment-id", "song2-0000")
            expect(folded).to_be_hidden()
            others.locator("summary").click()
            expect(folded.locator(".other-time")).to_have_text("0:01.0–0:09.1")
            folded.locator("button.play-other").click()
            expect(folded).to_have_attribute("data-playing", "true", timeout=15_000)
            assert folded.locator("audio").evaluate("a => a.duration") == pytest.approx(8.1, abs=0.01)

            page.set_input_files("#audio-file", str(tmp_path / "my clip.wav"))
            page.select_option("#audio-target", "audio")
            page.click("#audio-button")
            expect(page.locator("#status")).to_contain_text("result(s) for my clip.wav", timeout=15_000)
            expect(page.locator("li.result").first).to_have_attribute("data-segment-id", "song2-0001")
            assert errors == []
        finally:
            browser.close()
