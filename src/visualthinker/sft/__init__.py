"""Supervised fine-tuning of a VLM on records: the paper's SFT baseline and reasoning cold starts."""
