"""probllms-train data."""
