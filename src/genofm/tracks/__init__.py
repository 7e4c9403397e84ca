"""Epigenomic tracks as features: a cell type's chromatin state beside the DNA sequence.

Sequence is the same in every cell type, so cell-type-specific calls (a TF bound in one cell type
and not another) need the cell type's own epigenetic state, as the Epigenomic BERT seed showed.
This package turns signal (bigWig, bedGraph), peak (BED/narrowPeak) and chromatin-state (BED with
a state column) tracks into per-window features written as an embedding file like any backbone's
(backbone ``tracks``), so they train alone or joined with sequence embeddings.

``sheet``    the tracks sheet (name, cell_type, assay, file) and what kind of track each file is
``sources``  readers (pyBigWig, pysam tabix, pandas for small plain files) giving per-base values
             of a chromosome span, with assembly checks against the genome and the windows
``features`` bin statistics, feature names ``cell_type|assay|statistic|bin`` and the writer
"""
