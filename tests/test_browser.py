"""The studio page in headless Chromium: pick a seed, set a short walk, generate, and see the
track and the clips fill in; closing the page deletes the session's files."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
import time
from pathlib import Path

import pytest
import torch

from riff.seed_images import seed_image_names

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where to keep the page's screenshot after the run, to look at (RIFF_SCREENSHOT=path.png).
SCREENSHOT = os.environ.get("RIFF_SCREENSHOT")


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        pytest.skip("no Chromium: neither /usr/bin/chromium nor `chromium` on PATH")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def test_generate_a_walk_in_the_page(chromium, url, engine, narrow_seed, tmp_path):
    from playwright.sync_api import expect

    context, page, script_errors = _open(chromium, url)
    expect(page.locator("#model-status")).to_have_text(f"Model: {engine.model.describe()}")

    # The examples table renders, and a row fills in both ends.
    page.get_by_text("church organ playing a bach chorale", exact=True).click()
    expect(page.locator("#start-prompt textarea")).to_have_value("church organ playing a bach chorale")
    expect(page.get_by_label("End seed", exact=True)).to_have_value("40")

    # Clicking a seed thumbnail picks that seed in the dropdown.
    _walk_settings(page)
    picked = seed_image_names()[0]
    assert picked != "og_beat"
    page.get_by_text(picked, exact=True).first.click()
    expect(page.get_by_label("Seed image", exact=True)).to_have_value(picked)

    page.locator("#start-prompt textarea").fill("solo piano, slow")
    page.locator("#end-prompt textarea").fill("rock drum beat")
    for label, value in ((CLIPS, "2"), ("Inference steps", "5")):
        box = page.get_by_label(f"number input for {label}", exact=True)
        box.fill(value)
        box.press("Enter")
    page.locator("#seed-upload input[type=file]").set_input_files(
        narrow_seed
    )  # the upload wins over the pick
    page.locator("#seed-upload a[href$='/narrow.png']").wait_for(state="attached")

    page.locator("#generate").click()
    page.get_by_text("Seeds used: start 12, end 40", exact=True).wait_for(timeout=300_000)
    page.locator("#clips img").nth(1).wait_for(timeout=60_000)
    # The player draws the track's waveform and offers the file for download.
    page.locator("#track a[data-testid=download-link][download$='.wav']").wait_for(timeout=60_000)
    expect(page.locator("#track time#duration")).to_have_text("0:01", timeout=60_000)  # 2 x 0.63 s
    page.locator("#clips").scroll_into_view_if_needed()  # its images load lazily, once in sight
    page.wait_for_function(
        "() => [...document.querySelectorAll('#clips img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    if SCREENSHOT:
        shutil.copyfile(tmp_path / "page.png", SCREENSHOT)

    assert page.locator("#clips img").count() == 2
    assert script_errors == []
    assert page.locator(".toast-body.error, [data-testid=toast-body]").count() == 0
    sessions = [p for p in engine.root.iterdir() if p.is_dir()]
    assert len(sessions) == 1 and any(sessions[0].rglob("track_002.wav"))

    # Closing the page ends its heartbeat; the unload event deletes the session's files.
    context.close()
    deadline = time.monotonic() + 90
    while sessions[0].exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sessions[0].exists()


CLIPS = "Length in clips (5.11 s each)"


def _walk_settings(page) -> None:
    """Unfold the explorer's walk settings (steps, seed image, ...)."""
    page.get_by_text("Walk settings:").click()
    page.get_by_label("number input for Inference steps", exact=True).first.wait_for()


def _no_errors(page, script_errors: list[str]) -> None:
    assert script_errors == []
    assert page.locator(".toast-body.error, [data-testid=toast-body]").count() == 0


def _set_number(scope, label: str, value: str) -> None:
    box = scope.get_by_label(f"number input for {label}", exact=True)
    box.fill(value)
    box.press("Enter")


def _open(chromium, url):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("#start-prompt textarea")
    return context, page, script_errors


def test_a_chain_in_the_page(chromium, url):
    from playwright.sync_api import expect

    context, page, script_errors = _open(chromium, url)
    # A chain of the three prompts the table starts with, one clip a hop.
    page.get_by_role("tab", name="Prompt chain").click()
    panel = page.get_by_role("tabpanel")
    expect(panel.locator("#chain-prompts")).to_contain_text("jazz saxophone, smooth")
    _set_number(panel, "Clips per hop", "1")
    _set_number(panel, "Inference steps", "5")
    panel.get_by_role("button", name="Render the chain").click()
    panel.get_by_text("Seeds used: 0, 1, 2", exact=True).wait_for(timeout=300_000)
    expect(panel.locator("img[alt*='hop']")).to_have_count(3, timeout=60_000)
    assert script_errors == []
    context.close()


def test_an_endless_riff_in_the_page(chromium, url, engine):
    from playwright.sync_api import expect

    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg: Gradio streams audio through it")
    context, page, script_errors = _open(chromium, url)
    # The endless riff plays on, takes the prompt queued up next, and stops on Stop.
    page.get_by_role("tab", name="Endless riff").click()
    panel = page.get_by_role("tabpanel")
    page.locator("#endless-prompt textarea").fill("solo piano")
    _set_number(panel, "Clips from one seed to the next", "1")
    _set_number(panel, "Inference steps", "5")
    page.locator("#endless-play").click()
    status = page.locator("#endless-status")
    expect(status).to_contain_text("Playing 'solo piano'", timeout=300_000)
    page.locator("#up-next textarea").fill("rock drum beat")
    page.locator("#queue-next").click()
    expect(status).to_contain_text("→ 'rock drum beat'", timeout=300_000)
    expect(status).to_contain_text("s heard")  # the listener's side, not only the maker's
    expect(panel.locator("img").first).to_be_visible()
    page.locator("#endless-stop").click()
    deadline = time.monotonic() + 60
    while engine.queue.admitted() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.queue.admitted() == 0

    def said() -> str:
        """The status line's own words, without Gradio's status-tracker chrome around them (a
        cancelled event leaves an "Error" heading or a pending timer there for a while)."""
        return " ".join(status.get_by_role("paragraph").all_inner_texts()).strip()

    stopped = said()
    assert stopped.startswith("Stopped: ") and " s of music made; " in stopped  # what the riff made
    time.sleep(3)
    assert said() == stopped  # no more chunks after Stop
    assert script_errors == []
    context.close()


def test_the_status_line_is_true_when_the_page_opens(chromium, tiny_model_dir, tmp_path):
    from conftest import serve
    from playwright.sync_api import expect

    from riff.serve.engine import Engine
    from riff.studio import build_app

    for name, after_use in (
        (tiny_model_dir, "Model: "),
        (str(tmp_path / "missing"), "Model not available: "),
    ):
        engine = Engine(name, root=tmp_path / "results")
        with serve(build_app(engine)) as address:
            page = chromium.new_page()
            page.goto(address)
            expect(page.locator("#model-status")).to_contain_text(
                "loads on first use", timeout=60_000
            )  # a busy CPU
            with contextlib.suppress(ValueError):
                assert engine.model  # the first render loads it, or finds it cannot
            page.reload()  # a fresh page, built long before, says what is true now
            expect(page.locator("#model-status")).to_contain_text(after_use, timeout=60_000)
            expect(page.locator("#model-status")).not_to_contain_text("loads on first use")
            page.close()


def test_an_example_plays_and_sets_the_page(chromium, tiny_model, tmp_path):
    """An example renders on its first click, with progress, then plays at once for everyone;
    what it made is the page's own: clips play, the track is kept, its settings reused."""
    from conftest import serve
    from playwright.sync_api import expect

    from riff.serve.engine import Engine
    from riff.studio import build_app

    name = "jazz-trio-with-upright-bass-to-bossa-nova-drums"
    engine = Engine(tiny_model, root=tmp_path / "results")
    with serve(build_app(engine, cache_examples=True)) as address:
        context, page, script_errors = _open(chromium, address)
        # Every progress label the track shows is recorded as it appears: a quick render's
        # labels may come and go between two polls.
        page.evaluate(
            """() => { window.seen = [];
            new MutationObserver(() => {
                const label = (document.querySelector('#track')?.innerText || '').match(/clip \\d\\/5, step/);
                if (label) window.seen.push(label[0]);
            }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
        )
        page.get_by_text("jazz trio with upright bass", exact=True).click()
        # The player's own download is named after the prompts.
        page.locator(f"#track a[data-testid=download-link][download='{name}.wav']").wait_for(timeout=300_000)
        assert page.evaluate("window.seen.length") > 0  # it rendered with progress over the track
        expect(page.locator("#clips img")).to_have_count(5, timeout=60_000)
        _page_state_works(page, name)
        _no_errors(page, script_errors)
        context.close()

        # A second visitor hears it at once (no render this time), and has it as their own too.
        renders = len(list(engine.root.rglob("track_005.wav")))
        context, page, script_errors = _open(chromium, address)
        page.get_by_text("jazz trio with upright bass", exact=True).click()
        page.locator(f"#track a[data-testid=download-link][download='{name}.wav']").wait_for(timeout=30_000)
        assert len(list(engine.root.rglob("track_005.wav"))) == renders
        _page_state_works(page, name)
        # A new render: the file kept from the example is no longer offered as its track.
        _walk_settings(page)
        _set_number(page, CLIPS, "1")
        _set_number(page, "Inference steps", "5")
        page.locator("#generate").click()
        page.get_by_text("Seeds used: start 7, end 8", exact=True).wait_for(timeout=120_000)
        expect(page.locator("#track time#duration")).to_have_text("0:05", timeout=60_000)
        expect(page.get_by_text(name, exact=True)).to_have_count(0)
        _no_errors(page, script_errors)
        context.close()


def _page_state_works(page, name: str) -> None:
    """Save, a clip's player and Reuse work on what the page shows."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Save the track").first.click()
    expect(page.get_by_text(name, exact=True)).to_be_visible(timeout=60_000)
    page.locator("#clips img").nth(1).click()
    page.locator("#clip-player a[data-testid=download-link][download='clip_001.wav']").wait_for(
        timeout=30_000
    )
    page.keyboard.press("Escape")  # close the gallery's preview
    _set_number(page, CLIPS, "2")
    page.get_by_role("button", name="Reuse these settings").click()
    expect(page.get_by_label(f"number input for {CLIPS}", exact=True)).to_have_value("5", timeout=30_000)


def test_decode_the_image_just_encoded(chromium, url, tmp_path):
    from conftest import sine
    from playwright.sync_api import expect

    from riff.audio.files import save_audio

    song = save_audio(tmp_path / "tone.wav", sine(440.0, 3.0), 44100)
    context, page, script_errors = _open(chromium, url)
    page.get_by_role("tab", name="Spectrogram tools").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").first.set_input_files(str(song))
    expect(panel.locator("time").nth(1)).to_have_text("0:03", timeout=30_000)
    panel.get_by_role("button", name="Encode").click()
    expect(panel.locator("a[href$='/tone.png']")).to_be_attached(timeout=60_000)
    for _ in range(2):  # at once, and again after a while: the same image decodes
        panel.get_by_role("button", name="Decode this image →").click()
        expect(panel.locator("a[data-testid=download-link][download='tone.wav']")).to_be_attached(
            timeout=60_000
        )
        time.sleep(2)
    _no_errors(page, script_errors)
    context.close()


TABS = (
    "Interpolation explorer",
    "Text to audio",
    "Prompt chain",
    "Loop",
    "Endless riff",
    "How it works",
    "Audio to audio",
    "Spectrogram tools",
)


# The tab bar's buttons and those of its "more" menu (not its hidden copies, kept for measuring).
TAB_BUTTONS = "[role=tablist] button:visible, .overflow-dropdown button:visible"


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_generate_is_in_sight_and_every_tab_named(chromium, url, width, height):
    """The prompts and Generate are the first screen, on a laptop and on a phone; the rest is
    folded below; every tab's name shows, without a "more" menu."""
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    for element in ("#start-prompt textarea", "#end-prompt textarea", "#generate"):
        box = page.locator(element).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (element, box)
    expect(page.get_by_label(f"number input for {CLIPS}", exact=True)).to_be_visible()
    seconds = page.get_by_label("Length (s)", exact=True)
    expect(seconds).to_have_value("25.6")  # 5 clips of 5.11 s
    seconds.fill("30")  # seconds in: the clips that make them, and the seconds they make
    seconds.press("Enter")
    expect(page.get_by_label(f"number input for {CLIPS}", exact=True)).to_have_value("6")
    expect(seconds).to_have_value("30.7")
    expect(page.get_by_label("number input for Inference steps", exact=True).first).to_be_hidden()
    for name in TABS:
        expect(page.locator(TAB_BUTTONS, has_text=name).first).to_be_visible()
    page.locator(TAB_BUTTONS, has_text="Spectrogram tools").first.click()
    expect(page.get_by_text("Audio → image")).to_be_visible()
    page.close()


def test_the_page_fits_a_phone(chromium, url):
    from playwright.sync_api import expect

    page = chromium.new_page(viewport={"width": 400, "height": 900})
    page.goto(url)
    page.get_by_text("Walk settings:").click()
    page.wait_for_selector("#walk-examples table")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    table = page.locator("#walk-examples table").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 400
    thumbnails = page.locator("#seed-gallery img")
    expect(thumbnails).to_have_count(len(seed_image_names()), timeout=30_000)
    for i in range(thumbnails.count()):
        box = thumbnails.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 400, f"thumbnail {i} is cut"
    page.close()


def test_progress_cancel_format_and_the_teaching_view(chromium, url, engine, narrow_seed):
    from playwright.sync_api import expect

    context, page, script_errors = _open(chromium, url)
    page.locator("#start-prompt textarea").fill("solo piano")
    page.locator("#end-prompt textarea").fill("rock drums")
    _walk_settings(page)
    _set_number(page, CLIPS, "12")
    _set_number(page, "Inference steps", "100")
    page.locator("#seed-upload input[type=file]").set_input_files(narrow_seed)
    page.locator("#seed-upload a[href$='/narrow.png']").wait_for(state="attached")
    page.locator("#generate").click()
    # One progress bar, over the track, counting the steps that were set; Cancel before the
    # first clip is done says that nothing was made.
    label = page.get_by_text(re.compile(r"clip 1/12, step ([1-9]|[1-7]\d)/100"))
    expect(label).to_have_count(1, timeout=120_000)
    page.get_by_role("button", name="Cancel").first.click()
    expect(page.get_by_text("nothing was made")).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 30
    while engine.queue.admitted() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.queue.admitted() == 0  # the work stopped, not only the page
    # After the first clip plays, the bar stays over the track while the rest denoise as one
    # batch, and names the clips being made (not clip 2 while clip 1 finishes).
    _set_number(page, CLIPS, "5")
    _set_number(page, "Inference steps", "30")
    page.locator("#generate").click()
    page.get_by_text(re.compile(r"rendering: 1 clip\(s\) ready")).wait_for(timeout=120_000)
    batch = page.locator("#track").get_by_text(re.compile(r"clip [2-5]/5, step \d+/30"))
    expect(batch).to_be_visible(timeout=60_000)
    page.get_by_text("Seeds used: start 0, end 1", exact=True).wait_for(timeout=120_000)
    # The next render runs as usual, and its track is kept as FLAC, named after its prompts.
    _set_number(page, CLIPS, "1")
    _set_number(page, "Inference steps", "5")
    page.locator("#generate").click()
    page.get_by_text("Seeds used: start 0, end 1", exact=True).wait_for(timeout=120_000)
    page.get_by_label("Keep the track as").first.click()
    page.get_by_role("option", name="flac").click()
    page.get_by_role("button", name="Save the track").first.click()
    expect(page.get_by_text("solo-piano-to-rock-drums", exact=True)).to_be_visible(timeout=60_000)
    expect(page.locator("a[href*='solo-piano-to-rock-drums.flac']").first).to_be_attached()

    context.close()


def test_the_teaching_view_is_steps_with_every_picture_whole(chromium, url, tmp_path):
    from playwright.sync_api import expect

    context, page, script_errors = _open(chromium, url)
    page.get_by_role("tab", name="How it works").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_text("Strength, guidance, steps, seed image").click()
    _set_number(panel, "Inference steps", "6")
    page.locator("#teach-go").click()
    # Five steps of pictures, in order, each step's pictures whole and captioned; Next goes on.
    for n, count in enumerate((2, 1, None, 2, 1), start=1):
        step = page.locator(f"#journey-step-{n}")
        expect(step.locator("img").first).to_be_visible(timeout=120_000)
        if count is not None:
            expect(step.locator("img:visible")).to_have_count(count)
        page.wait_for_function(
            f"() => [...document.querySelectorAll('#journey-step-{n} img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        for box in (step.locator("img").nth(i).bounding_box() for i in range(step.locator("img").count())):
            assert box["width"] > 50 and box["height"] > 50
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
        page.screenshot(path=str(tmp_path / f"step{n}.png"), full_page=True)
        if SCREENSHOT:
            shutil.copyfile(tmp_path / f"step{n}.png", SCREENSHOT.replace(".png", f"-step{n}.png"))
        # No picture is cut: each is drawn whole, at its own aspect ratio, inside its frame.
        assert step.evaluate(
            """s => [...s.querySelectorAll('img')].filter(i => i.offsetParent).every(i => {
                const r = i.getBoundingClientRect(), f = i.parentElement.getBoundingClientRect();
                const whole = r.left >= f.left - 1 && r.right <= f.right + 1
                    && r.top >= f.top - 1 && r.bottom <= f.bottom + 1;
                return whole && Math.abs(r.width / r.height - i.naturalWidth / i.naturalHeight) < 0.03;
            })"""
        )
        step.get_by_role("button", name="Next step →").click()
    expect(page.get_by_text("start_step")).to_be_visible()
    expect(page.get_by_text("Every control says what it does when you hover")).to_have_count(0)
    _no_errors(page, script_errors)
    context.close()


def test_a_stereo_restyle_in_the_page(chromium, url, engine, tmp_path):
    import soundfile as sf
    from conftest import sine
    from playwright.sync_api import expect

    from riff.audio.files import save_audio

    song = save_audio(tmp_path / "stereo song.wav", torch.cat([sine(220.0, 6.0), sine(1500.0, 6.0)]), 44100)
    context, page, script_errors = _open(chromium, url)
    page.get_by_role("tab", name="Audio to audio").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").first.set_input_files(str(song))
    panel.get_by_label("Keep stereo").check()
    _set_number(panel, "Inference steps", "5")
    panel.get_by_role("button", name="Restyle").click()
    expect(panel.get_by_text("Seed used: 0", exact=True)).to_be_visible(timeout=300_000)
    expect(panel.locator("img").first).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path / "restyle.png"), full_page=True)
    tracks = sorted(engine.root.rglob("track_*.wav"), key=lambda p: p.stat().st_mtime)
    assert sf.info(str(tracks[-1])).channels == 2
    assert script_errors == []
    context.close()


def test_cutting_on_the_song_s_bars_shows_its_estimated_tempo(chromium, url, tmp_path):
    import numpy as np
    import soundfile as sf
    from playwright.sync_api import expect

    from riff import seedgen
    from riff.grid import Grid

    loop = seedgen.render("og_beat", Grid.parse(96, key="A minor", bars=2))
    song = tmp_path / "drums.wav"
    sf.write(song, np.concatenate([np.zeros(int(0.37 * 44100)), np.tile(loop, 5)]), 44100)
    context, page, script_errors = _open(chromium, url)
    page.get_by_role("tab", name="Audio to audio").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").first.set_input_files(str(song))
    tempo = panel.get_by_label("Song tempo (bpm)", exact=True)
    expect(tempo).to_have_value("0")  # not asked for: nothing estimated (an empty box shows 0)
    panel.get_by_label("Cut on the song's bars").check()
    expect(tempo).to_have_value(re.compile(r"^9[5-7](\.\d)?$"), timeout=60_000)
    downbeat = panel.get_by_label("First downbeat (s)", exact=True)
    expect(downbeat).to_have_value(re.compile(r"^\d+\.\d+$"))
    assert script_errors == []
    context.close()


def test_the_song_is_trimmed_on_its_waveform(chromium, url, tmp_path):
    """Gradio's waveform editor picks the region: what reaches the server is the trimmed song."""
    from conftest import sine
    from playwright.sync_api import expect

    from riff.audio.files import save_audio

    song = save_audio(tmp_path / "song.wav", sine(440.0, 6.0), 44100)
    context, page, script_errors = _open(chromium, url)
    page.get_by_role("tab", name="Audio to audio").click()
    panel = page.get_by_role("tabpanel")
    panel.locator("input[type=file]").first.set_input_files(str(song))
    duration = panel.locator("time").nth(1)
    expect(duration).to_have_text("0:06")  # the waveform is drawn
    for _ in range(3):  # the selection appears once the editor has the waveform
        panel.get_by_role("button", name="Trim audio to selection").click()
        panel.get_by_role("button", name="Trim", exact=True).click()
        with contextlib.suppress(AssertionError):
            expect(duration).to_have_text(re.compile(r"0:0[0-4]"), timeout=3000)  # trimmed in the page
            break
    expect(duration).to_have_text(re.compile(r"0:0[0-4]"))
    _set_number(panel, "Inference steps", "5")
    panel.get_by_role("button", name="Restyle").click()
    # 6 s trimmed to its default selection is too short to restyle: the server says so.
    expect(
        page.get_by_text(re.compile(r"the region is [0-4]\.\d\d s; restyling needs at least 5.11 s"))
    ).to_be_visible(timeout=60_000)
    assert script_errors == []
    context.close()


def test_a_tempo_and_key_name_and_tag_the_downloaded_track(chromium, url, tmp_path):
    from playwright.sync_api import expect

    from riff.audio.tags import wav_chunks

    context, page, script_errors = _open(chromium, url)
    page.locator("#start-prompt textarea").fill("jazz piano")
    page.locator("#end-prompt textarea").fill("jazz drums")
    _walk_settings(page)
    _set_number(page, CLIPS, "1")
    _set_number(page, "Inference steps", "5")
    # Tap tempo: taps half a second apart set the tempo box near 120 bpm (the page's own clock).
    tempo = page.get_by_label("Tempo (bpm)", exact=True).first
    tap = page.get_by_role("button", name="Tap tempo").first
    for _ in range(3):
        tap.click()
        page.wait_for_timeout(500)
    tapped = float(tempo.input_value())
    assert 40 <= tapped <= 120
    tempo.fill("120")
    tempo.press("Enter")
    key = page.get_by_label("Key", exact=True).first
    key.click()
    page.get_by_role("option", name="A minor", exact=True).click()
    expect(key).to_have_value("A minor")

    page.locator("#generate").click()
    # The player's own download is named with the tempo and key, and so is the file.
    link = page.locator("#track a[data-testid=download-link][download$='_120bpm_Am.wav']")
    page.locator(
        "#track a[data-testid=download-link][download$='_120bpm_Am.wav'], .toast-body.error"
    ).first.wait_for(timeout=300_000)
    _no_errors(page, script_errors)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "jazz-piano-to-jazz-drums_120bpm_Am.wav"
    kept = tmp_path / download.value.suggested_filename
    download.value.save_as(kept)
    acid = wav_chunks(kept)["acid"]
    assert struct.unpack("<f", acid[20:24]) == (120.0,)  # the tempo a DAW reads
    assert struct.unpack("<H", acid[4:6]) == (69,)  # A, the key's root
    _no_errors(page, script_errors)
    context.close()
