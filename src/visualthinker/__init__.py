"""visualthinker: R1-Zero-style GRPO for vision-language models (VisualThinker-R1-Zero re-implementation)."""

__version__ = "0.1.0"
