"""A render's files (`riff.serve.results`): the track named after its prompts, kept in the format
asked, and a growing track rewritten a logarithmic number of times."""

from __future__ import annotations

import pytest


def test_a_track_is_kept_in_the_format_asked_named_after_its_prompts(engine, narrow_seed):
    import soundfile as sf

    from riff.request import Loop, PromptEnd, Settings, Walk
    from riff.serve.results import track_name

    walk = Walk(
        PromptEnd("Solo piano, slow!"),
        PromptEnd("rock drum beat (120 bpm)"),
        num_clips=2,
        seed_image=narrow_seed,
    )
    assert track_name(walk) == "solo-piano-slow-to-rock-drum-beat-120-bpm"
    assert track_name(Loop(PromptEnd("lofi"))) == "lofi-loop"
    result = list(engine.render(walk, Settings(num_inference_steps=4), "keeper"))[-1]
    frames = sf.info(str(result.track)).frames
    for suffix in (".flac", ".mp3", ".ogg", ".wav"):
        kept = engine.export(result.track, result.name, suffix, "keeper")
        assert kept.name == f"solo-piano-slow-to-rock-drum-beat-120-bpm{suffix}"
        assert abs(sf.info(str(kept)).frames - frames) < 2000  # mp3 pads a little
    with pytest.raises(ValueError, match="cannot write"):
        engine.export(result.track, result.name, ".exe", "keeper")
    with pytest.raises(ValueError, match="not one this page made"):
        engine.export(result.track, result.name, ".flac", "someone-else")
    assert engine.export(result.track, "../../etc/x", ".wav", "keeper").parent == result.track.parent


def test_a_growing_track_is_rewritten_a_logarithmic_number_of_times(engine, narrow_seed, monkeypatch):
    """The track so far was written after every clip, each a whole WAV that Gradio copied too:
    disk and time grew with the square of the length. It is now written after clips 1, 2, 4,
    8, ... and the last, each file in place of the one before."""
    import soundfile as sf

    from riff.request import PromptEnd, Settings, Walk
    from riff.serve import results as results_module

    stitched = []
    real = results_module.stitch
    monkeypatch.setattr(
        results_module, "stitch", lambda done, music: stitched.append(len(done)) or real(done, music)
    )
    walk = Walk(PromptEnd("piano"), PromptEnd("drums"), num_clips=9, seed_image=narrow_seed)
    handed = []
    for result in engine.render(walk, Settings(num_inference_steps=2), "grower"):
        handed.append(result.track)
        assert result.track.is_file()  # what the page is handed is there
    assert stitched == [1, 2, 4, 8, 9]
    assert [p.name for p in dict.fromkeys(handed)] == [f"track_{n:03d}.wav" for n in stitched]
    assert list(result.folder.glob("track_*.wav")) == [result.track]
    clips = sum(sf.info(str(p)).frames for p in result.clips)
    assert sf.info(str(result.track)).frames <= clips  # the whole track, joins overlapping
    assert sf.info(str(result.track)).frames > clips // 2
