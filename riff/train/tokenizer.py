"""CLIP tokenizers built in code: one token per character (byte-level, no merges), or with
byte-pair merges learned from a dataset's captions. No download."""

from __future__ import annotations

SPECIALS = ("<|startoftext|>", "<|endoftext|>")


def _byte_alphabet() -> list[str]:
    """CLIP's byte-to-unicode table (GPT-2's), so any text tokenises."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def tiny_tokenizer(max_length: int = 77) -> object:
    """A CLIP tokenizer with a byte-level vocabulary and no merges: one token per character."""
    from transformers import CLIPTokenizer

    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + list(SPECIALS)
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def learn_tokenizer(captions: list[str], max_merges: int = 4000, min_count: int = 2) -> object:
    """A CLIP tokenizer whose merges are learned from the captions (byte-pair encoding).

    It keeps CLIP's byte-level alphabet, so any text tokenises; words the captions use often
    become single tokens.
    """
    from transformers import CLIPTokenizer

    characters = tiny_tokenizer()  # CLIP's byte alphabet, one token per character
    base = [
        t for t, _ in sorted(characters.get_vocab().items(), key=lambda item: item[1]) if t not in SPECIALS
    ]
    counts: dict[tuple[str, ...], int] = {}
    for caption in captions:
        word: list[str] = []
        for token in characters.tokenize(caption):
            word.append(token)
            if token.endswith("</w>"):
                counts[tuple(word)] = counts.get(tuple(word), 0) + 1
                word = []
    merges: list[tuple[str, str]] = []
    vocab = list(base)
    while len(merges) < max_merges:
        pairs: dict[tuple[str, str], int] = {}
        for word, count in counts.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best, count = max(pairs.items(), key=lambda item: (item[1], item[0]))
        if count < min_count:
            break
        merges.append(best)
        vocab.append(best[0] + best[1])
        counts = {_merge(word, best): n for word, n in counts.items()}
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate([*vocab, *SPECIALS])}, merges=merges, model_max_length=77
    )


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)
