"""Dataset recipes (YAML) for `probllms-train data`."""
