"""Held-out evaluation shared by every kind of model: metrics with bootstrap intervals, curves, prediction tables.

``genofm-train`` evaluates heads on frozen embeddings and fine-tuned backbones with the same code,
so numbers in ``metrics.json`` are comparable across backbones and heads.
"""
