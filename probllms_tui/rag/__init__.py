"""Retrieval over the student's notes (Chroma vectors + BM25, fused by reciprocal rank)."""
