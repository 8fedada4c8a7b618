import typer

train_app = typer.Typer(no_args_is_help=True)
slurm_app = typer.Typer(no_args_is_help=True)
