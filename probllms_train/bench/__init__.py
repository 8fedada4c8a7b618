"""probllms-train bench."""
