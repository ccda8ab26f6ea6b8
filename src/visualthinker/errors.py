"""Exceptions whose message is shown to the user as one line: what input is wrong and how to fix it."""


class VisualThinkerError(Exception):
    """Base class: the CLI prints the message without a traceback and exits with status 2."""


class ConfigError(VisualThinkerError):
    """A config key is unknown or a value is out of range."""


class DataError(VisualThinkerError):
    """A dataset file, row or field is missing or malformed."""


class ModelError(VisualThinkerError):
    """A model directory or hub id cannot be loaded."""


class TrainingError(VisualThinkerError):
    """A run met a fault it cannot continue from: a non-finite reward, advantage, loss, gradient or weight, or a
    reward function that broke its contract. The message names the step and the source."""
