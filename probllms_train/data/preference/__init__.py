"""Preference pairs: student annotations, corrupted QA corpora, Stack Exchange -> DPO JSONL."""
