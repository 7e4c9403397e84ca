"""Helpers for genofm's own tests and pipeline smoke runs (random models, synthetic data)."""
