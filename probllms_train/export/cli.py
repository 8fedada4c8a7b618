def export_command(run_dir: str) -> None:
    raise SystemExit("export: not implemented yet")
