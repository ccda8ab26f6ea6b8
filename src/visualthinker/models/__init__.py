"""Model adapters (one per family) and tiny offline model builders."""

from visualthinker.models.adapter import ADAPTERS, QwenVLAdapter, detect_family, get_adapter

__all__ = ["ADAPTERS", "QwenVLAdapter", "detect_family", "get_adapter"]
