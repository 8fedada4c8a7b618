"""Entry point of `probllms-tui`.

Typer (not argparse) because `probllms-train` uses it too and subcommands with typed options
read the same in both. Heavy imports (llama_cpp, chromadb, Textual) stay inside commands so
`--help` and the app's first frame do not wait for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from probllms_tui.cli.errors import run_cli
from probllms_tui.core.choices import Method, value
from probllms_tui.core.errors import InputError
from probllms_tui.rag.question_notes import EXPLANATION_TOKENS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,  # our errors are one line; a crash should show a plain trace
    help="ProbLLMs: practise MCQs and answer exam questions with a local model and your notes.",
)

ModelOpt = typer.Option(None, "--model", "-m", help="Registry name or path to a .gguf file.")
DataDirOpt = typer.Option(None, "--data-dir", help="Where answers, settings and the notes index live ($PROBLLMS_HOME).")
ModelsDirOpt = typer.Option(None, "--models-dir", help="Folder of GGUF models and manifest.json ($PROBLLMS_MODELS).")


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    model: Optional[str] = ModelOpt,
    bank: Optional[list[Path]] = typer.Option(None, "--bank", help="Question bank to practise instead of the built-in one (.xml .gift .aiken .txt .apkg .tsv .jsonl .json .ndjson .csv); repeatable."),
    notes: Optional[Path] = typer.Option(None, "--notes", help="Folder of course notes for retrieval."),
    data_dir: Optional[Path] = DataDirOpt,
    models_dir: Optional[Path] = ModelsDirOpt,
    no_rag: bool = typer.Option(False, "--no-rag", help="Answer without retrieving notes."),
) -> None:
    """Start the study app (practice mode) unless a subcommand is given."""
    if ctx.invoked_subcommand is not None:
        given = {"model": model, "bank": bank, "notes": notes, "data_dir": data_dir,
                 "models_dir": models_dir, "no_rag": no_rag or None}
        pass_app_options_on(ctx, {k: v for k, v in given.items() if v})
        return
    from probllms_tui.app.launch import launch

    launch(model=model, banks=bank or [], notes=notes, data_dir=data_dir,
           models_dir=models_dir, rag=not no_rag)


# An app option given before a subcommand reaches the subcommand's option of the same meaning:
# `probllms-tui --model qwen ask ...` must not answer with the default model in silence.
_SAME_MEANING = {"notes": ("notes", "notes_dir")}


def pass_app_options_on(ctx: typer.Context, given: dict) -> None:
    """Make each given app option the default of the subcommand's own (Click's default_map),
    or refuse it in one line when the subcommand has no such option."""
    sub_name = ctx.invoked_subcommand
    sub = ctx.command.get_command(ctx, sub_name)
    # A group (notes, models, bank) hands the option to each of its commands that takes it.
    group = getattr(sub, "commands", None)
    commands = list(group.items()) if group is not None else [(None, sub)]
    default_map: dict = {}
    for option, value_given in given.items():
        names = _SAME_MEANING.get(option, (option,))
        takers = [(name, p.name) for name, c in commands for p in c.params if p.name in names]
        if not takers:
            flag = "--" + option.replace("_", "-")
            raise InputError(f"{flag} is an option of the app, not of `{sub_name}`: "
                             f"`probllms-tui {sub_name} --help` lists what it takes")
        for name, param in takers:
            target = default_map.setdefault(name, {}) if name else default_map
            target[param] = value_given
    ctx.default_map = {sub_name: default_map}


@app.command()
def ask(
    text: Optional[str] = typer.Argument(None, help="The question with its options; '-' or nothing reads stdin."),
    model: Optional[str] = ModelOpt,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    explain: bool = typer.Option(False, "--explain", help="Also generate an explanation."),
    method: Optional[Method] = typer.Option(None, "--method", help="Scoring method (default: the model's manifest)."),
    no_rag: bool = typer.Option(False, "--no-rag", help="Do not retrieve notes."),
    notes: Optional[Path] = typer.Option(None, "--notes",
                                         help="Folder of course notes: brought up to date in the index first, as the app does."),
    k: int = typer.Option(3, "--k", help="Number of note passages to retrieve."),
    max_tokens: int = typer.Option(EXPLANATION_TOKENS, "--max-tokens",
                                   help="Explanation length limit (also reserved when fitting notes, as the app does)."),
    data_dir: Optional[Path] = DataDirOpt,
    models_dir: Optional[Path] = ModelsDirOpt,
) -> None:
    """Answer one pasted MCQ: the chosen option and a probability per option."""
    from probllms_tui.cli.ask import run_ask

    if text is None or text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no question given: pass it as an argument or pipe it on stdin")
        raw = sys.stdin.buffer.read(10_000_000)
        text = raw.decode("utf-8", errors="replace")
    result = run_ask(text, model=model, method=value(method), explain=explain, rag=not no_rag, k=k,
                     max_tokens=max_tokens, data_dir=data_dir, models_dir=models_dir, notes_dir=notes,
                     stream_to=None if as_json else sys.stdout)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))


def _register_subapps() -> None:
    from probllms_tui.cli.bank import bank_app, export
    from probllms_tui.cli.models import models_app
    from probllms_tui.rag.cli import notes_app

    app.add_typer(models_app, name="models",
                  help="List the models on disk (registry, Ollama, LM Studio, HF cache, GPT4All); add or pull one.")
    app.add_typer(notes_app, name="notes", help="Index and search your course notes.")
    app.add_typer(bank_app, name="bank", help="Read question banks: Moodle XML, GIFT, Aiken, Anki, JSONL, CSV.")
    app.command("export")(export)


_register_subapps()


def run() -> None:
    run_cli(app)


if __name__ == "__main__":
    run()
