"""MCQ sets: ARC, MMLU science, GSM8K, MATH -> seed/structured JSONL, and the degenerate-set check."""
