"""probllms-train: the cluster side. Builds datasets, runs DPO+LoRA, exports GGUF, benchmarks."""
