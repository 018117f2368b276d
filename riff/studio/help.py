"""The page's help: under each control, a line that says what it does to the sound."""

from __future__ import annotations

SLIDER_HELP: dict[str, str] = {
    "prompt": "What the music should sound like (instruments, genre, mood, tempo): the model paints a spectrogram to match it.",
    "negative_prompt": "What to steer away from: every step is pushed away from this text as well as towards the prompt.",
    "seed": "Picks the random noise a clip starts from: the same seed and settings give the same sound, a new seed a new take.",
    "denoising": "How far a clip may move from the seed image: low keeps its rhythm and timbre, 1 replaces them with the prompt's.",
    "guidance": "How strictly the prompt is followed: higher is more on-topic but harsher and less varied, 0 ignores the prompt.",
    "num_inference_steps": "How many denoising steps run: more gives cleaner detail and takes longer, few sound smeared or noisy.",
    "scheduler": "The method that walks from noise to music: the model's own, or DPM-Solver++, as clean in about half the steps.",
    "alpha_curve": "How a walk moves between its ends across the clips: linear evenly, power lingers at the ends, smooth eases in and out.",
    "crossfade_ms": "How long neighbouring clips overlap at each join: longer hides the seams but blurs the beat there, 0 is a hard cut.",
    "num_clips": "How many clips the walk takes from start to end: more clips make a longer, more gradual change.",
    "num_seeds": "How many clips to make from the prompt, one per seed counting up: takes on the same idea to choose from.",
    "seed_image": "The spectrogram every clip starts from: its rhythm, tempo and sound show through, the more so at low denoising.",
    "mask": "Which parts of the seed image are repainted (white) and which are kept as they are (black), such as the bass and kick.",
    "width": "Clip length in spectrogram columns (512 = 5.11 s): wider clips are longer music from one seed, at more cost.",
    "continuation": "Each clip keeps the last quarter of the one before and goes on from it, so the music flows instead of restarting.",
    "clips_per_hop": "Clips spent going from each prompt of the chain to the next: more makes slower, smoother changes of style.",
    "clips_per_seed": "Clips spent going from one seed's noise to the next: more makes the endless riff change more slowly.",
    "clips": "How many clips go round the loop before it repeats: a longer loop with more variation inside it.",
    "bpm": "Tempo in beats a minute, 40-240 (or tap it): the seed's pattern plays at it, each clip whole bars; 0 keeps the seed's own tempo.",
    "key": "The key of a bass and pad laid under the seed's pattern, which the music leans to and the file is tagged with; or as the seed is.",
    "meter": "Beats in a bar: 4/4 and 3/4 count quarter notes, 6/8 two dotted quarters; the seed's pattern is arranged for it.",
    "bars": "Bars in each clip, with a tempo: more bars make longer clips at more cost, or as many as fit a 5.11 s clip.",
    "start_s": "Where in the song the restyled region begins, in seconds.",
    "duration_s": "How long the restyled region is: it is cut into 5.11 s clips, each restyled on its own.",
    "lora_scale": "How strongly the picked LoRA's style applies: 1 as it was trained, 0 not at all, past 1 or below 0 exaggerated or reversed.",
    "song_bpm": "The song's tempo, estimated when it is uploaded: correct it if the estimate is off (half or double is common); empty estimates it again.",
    "downbeat_s": "Where the song's first bar begins, in seconds, estimated on upload: set it on a bar line so the cuts fall on the song's bars.",
}


def explain(fields: dict) -> None:
    """Every control's tooltip: what it does to the sound (`SLIDER_HELP`), by its field's name."""
    for name, component in fields.items():
        key = name if name in SLIDER_HELP else name.removeprefix("start_").removeprefix("end_")
        key = {"seed_upload": "seed_image"}.get(key, key)
        if key in SLIDER_HELP and not getattr(component, "info", None):
            component.info = SLIDER_HELP[key]
