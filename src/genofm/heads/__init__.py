"""Classification heads fitted on frozen embeddings, saved without pickle."""
