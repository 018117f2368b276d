"""What to render (`riff.request`): requests refuse bad input by name."""

from __future__ import annotations

import pytest

from riff.request import PromptEnd


def test_empty_and_non_text_prompts_are_refused():
    for prompt in ["", "   "]:
        with pytest.raises(ValueError, match="prompt is empty"):
            PromptEnd(prompt)
    with pytest.raises(ValueError, match="must be text"):
        PromptEnd(None)  # type: ignore[arg-type]
