"""Prompt weighting: the reference's syntax and its effect on the embeddings."""

from __future__ import annotations

import pytest
import torch

from riff import pipeline
from riff.prompts import parse_weights
from riff.request import PromptEnd


@pytest.mark.parametrize(
    "prompt,expected",
    [  # the reference's own examples (lpw_stable_diffusion's docstring)
        ("normal text", [("normal text", 1.0)]),
        ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
        ("(unbalanced", [("unbalanced", 1.1)]),
        ("\\(literal\\]", [("(literal]", 1.0)]),
        ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
        (
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            [
                ("a ", 1.0),
                ("house", 1.1 * 1.1 * 1.3),
                (" ", 1.1),
                ("on", 1.0),
                (" a ", 1.1),
                ("hill", 0.55),
                (", sun, ", 1.1),
                ("sky", 1.1**4),
                (".", 1.1),
            ],
        ),
        ("[quiet] drums", [("quiet", 1 / 1.1), (" drums", 1.0)]),
        ("", [("", 1.0)]),
    ],
)
def test_parse_matches_the_reference(prompt, expected):
    got = parse_weights(prompt)
    assert [text for text, _ in got] == [text for text, _ in expected]
    assert [w for _, w in got] == pytest.approx([w for _, w in expected])


@pytest.mark.parametrize("prompt", ["(drums:.)", "(drums:99)", "(drums:10.5)", "(drums:-12)"])
def test_bad_weights_are_a_clear_error(prompt):
    with pytest.raises(ValueError, match="prompt weight"):
        parse_weights(prompt)


@pytest.mark.parametrize(
    "prompt,match",
    [
        ("(" * 400 + "piano" + ")" * 400, "nested more than 16 deep"),  # once weighed 3.6e16
        ("[" * 400 + "piano", "nested more than 16 deep"),
        ("(" * 16 + "piano:3)", r"'piano' comes to 12\.5 as nested"),
        ("((drums:10))", "comes to 11 as nested"),
        ("(((drums:-9)))", "comes to -10.9 as nested"),
    ],
)
def test_weights_are_bounded_as_nested_not_only_as_written(prompt, match):
    with pytest.raises(ValueError, match=match) as error:
        PromptEnd(prompt)  # refused with the request, before any work
    assert "\n" not in str(error.value) and len(str(error.value)) < 120


def test_nesting_within_the_bounds_still_weighs_as_the_reference():
    assert parse_weights("(" * 16 + "x" + ")" * 16) == [("x", pytest.approx(1.1**16))]
    assert parse_weights("((drums:8))") == [("drums", pytest.approx(8 * 1.1))]


def plain_embeddings(model, text: str) -> torch.Tensor:
    """The text encoder's output for one 77-token window of `text`, built by hand."""
    tok = model.tokenizer
    ids = tok(text, add_special_tokens=False).input_ids
    row = [tok.bos_token_id, *ids, tok.eos_token_id]
    row += [tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id] * (77 - len(row))
    with torch.no_grad():
        return model.text_encoder(torch.tensor([row])).last_hidden_state[0]


def test_plain_prompts_are_encoded_as_they_read(tiny_model):
    text = "lofi hip hop beat, 90 bpm: mellow"
    torch.testing.assert_close(
        pipeline.encode_prompts(tiny_model, [text])[0], plain_embeddings(tiny_model, text), rtol=0, atol=0
    )


def test_a_weighted_word_scales_its_tokens_as_the_reference_does(tiny_model):
    """(house:1.5): the tokens of "house" times 1.5, then the whole prompt back to its mean."""
    plain = plain_embeddings(tiny_model, "a house on a hill")
    ids = tiny_model.tokenizer("a house on a hill", add_special_tokens=False).input_ids
    house = tiny_model.tokenizer("house", add_special_tokens=False).input_ids
    first = next(i for i in range(len(ids)) if ids[i : i + len(house)] == house)
    weights = torch.ones(77)
    weights[1 + first : 1 + first + len(house)] = 1.5  # +1: the start token
    expected = plain * weights[:, None]
    expected = expected * (plain.mean() / expected.mean())
    got = pipeline.encode_prompts(tiny_model, ["a (house:1.5) on a hill"])[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert float((got - plain).abs().max()) > 1e-3


def test_weights_apply_to_negative_prompts_and_long_prompts(tiny_model):
    long = "slow piano " * 12  # past one 75-token window
    both = pipeline.encode_prompts(tiny_model, [long + "(rain:1.4)", "[noise]", long + "rain", "noise"])
    assert both.shape[1] == 2 * 77
    assert float((both[0] - both[2]).abs().max()) > 1e-3  # the weight reached the second window
    assert float((both[1] - both[3]).abs().max()) > 1e-3
