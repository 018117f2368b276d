"""The public service: the engine (queue, cancel, model), its limits, trust, REST and Spaces."""
