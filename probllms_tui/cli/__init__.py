"""`probllms-tui` command line: the app, headless `ask`, `models` and `notes`."""
