"""Generation backends (transformers `generate`; a vLLM backend can implement the same interface)."""

from visualthinker.generation.base import GenerationBackend, Rollout, SamplingConfig
from visualthinker.generation.hf import HFGenerator

__all__ = ["GenerationBackend", "HFGenerator", "Rollout", "SamplingConfig"]
