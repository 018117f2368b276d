"""Prompt weighting as the reference has it: `(word:1.3)`, `(word)` = x1.1, `[word]` = /1.1.

The syntax and the weighting are those of diffusers' long-prompt-weighting community pipeline,
which riffusion 0.0.5 copied (`riffusion/external/prompt_weighting.py`): each token's embedding is
scaled by its weight, then the whole prompt's embeddings are rescaled to keep their mean.
"""

from __future__ import annotations

import math
import re

import torch

# One token of the syntax a match; `:1.3)` carries its number (lpw_stable_diffusion's pattern).
_ATTENTION = re.compile(
    r"""
\\\(|
\\\)|
\\\[|
\\]|
\\\\|
\\|
\(|
\[|
:([+-]?[.\d]+)\)|
\)|
]|
[^\\()\[\]:]+|
:
""",
    re.X,
)
_SYNTAX = set("()[]\\")
ROUND, SQUARE = 1.1, 1 / 1.1
MAX_WEIGHT = 10.0  # a weight's bound either way, as written or as nested; beyond it guidance falls apart
MAX_DEPTH = 16  # brackets inside brackets: (((a))) is 3; 1.1^16 is already 4.6


def is_weighted(prompt: str) -> bool:
    """Whether a prompt uses the syntax at all (plain prompts take the unweighted path)."""
    return any(c in _SYNTAX for c in prompt)


def parse_weights(prompt: str) -> list[tuple[str, float]]:
    """Fragments of a prompt and their weights, runs of equal weight merged.

    `(a)` multiplies by 1.1, `[a]` divides by 1.1, `(a:w)` multiplies by w, nesting multiplies;
    unclosed brackets apply to the end; `\\(` and the like are literal.

    Raises:
        ValueError: an explicit weight that is not a number in -10..10, brackets nested deeper
            than `MAX_DEPTH`, or a fragment whose weight comes to outside -10..10 as nested.
    """
    fragments: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply(start: int, factor: float) -> None:
        for fragment in fragments[start:]:
            fragment[1] *= factor

    for match in _ATTENTION.finditer(prompt):
        text, weight = match.group(0), match.group(1)
        if text.startswith("\\"):
            fragments.append([text[1:], 1.0])
        elif text in "([":
            if len(round_open) + len(square_open) >= MAX_DEPTH:
                raise ValueError(f"prompt brackets are nested more than {MAX_DEPTH} deep")
            (round_open if text == "(" else square_open).append(len(fragments))
        elif weight is not None and round_open:
            multiply(round_open.pop(), _weight(weight))
        elif text == ")" and round_open:
            multiply(round_open.pop(), ROUND)
        elif text == "]" and square_open:
            multiply(square_open.pop(), SQUARE)
        else:
            fragments.append([text, 1.0])
    for start in round_open:
        multiply(start, ROUND)
    for start in square_open:
        multiply(start, SQUARE)
    for text, weight in fragments:
        if not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValueError(
                f"the prompt weight of {text.strip()[:40]!r} comes to {weight:.3g} as nested: "
                f"at most -{MAX_WEIGHT:g}..{MAX_WEIGHT:g}"
            )
    merged: list[list] = []
    for text, weight in fragments or [["", 1.0]]:
        if merged and merged[-1][1] == weight:
            merged[-1][0] += text
        else:
            merged.append([text, weight])
    return [(text, weight) for text, weight in merged]


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"prompt weight {text!r} is not a number") from None
    if not (math.isfinite(value) and -MAX_WEIGHT <= value <= MAX_WEIGHT):
        raise ValueError(f"prompt weight {text} is outside -{MAX_WEIGHT:g}..{MAX_WEIGHT:g}")
    return value


def apply_weights(embeddings: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Scale each token's embedding by its weight, then the prompt's to its old mean, as the
    reference does (a mean of about zero is left unscaled rather than blown up).

    Args:
        embeddings: (batch, seq, hidden); weights: (batch, seq).
    """
    before = embeddings.float().mean(dim=(-2, -1), keepdim=True)
    weighted = embeddings.float() * weights[..., None].to(embeddings.device, torch.float32)
    after = weighted.mean(dim=(-2, -1), keepdim=True)
    ratio = torch.where(after.abs() > 1e-12, before / after, torch.ones_like(after))
    return (weighted * ratio).to(embeddings.dtype)
