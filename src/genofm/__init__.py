"""genofm: pre-trained genomic models turned into quick, interpretable models of gene regulation."""

__version__ = "0.1.0"
