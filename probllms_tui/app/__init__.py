"""The Textual study app: screens, widgets and the logic behind them (store lives in probllms_tui.store)."""
