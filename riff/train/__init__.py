"""Making models: `riff dataset` (dataset/), the networks and tokenizers built in code
(networks, tokenizer), `riff train` (train) and `riff evaluate` (evaluate).

Above riff's core: it uses the codec, the model layer and the pipeline; nothing in the core
imports it.
"""
