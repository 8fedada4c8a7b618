"""probllms-train export."""
