"""Calibrations shipped with the package for built-in models (one JSON file per model)."""
