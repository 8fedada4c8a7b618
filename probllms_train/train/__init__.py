"""probllms-train train."""
