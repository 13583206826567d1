"""The ``c2f`` command: one entry point for the package's command-line tools.

::

    c2f run fierce --only age --plan       # python -m c2f_utils.run fierce --only age --plan
    c2f data check samson                  # python -m c2f_utils.data check samson
    c2f --version

Each subcommand forwards its arguments, unchanged, to the module's own ``main``; ``c2f-run``
(the runner alone) stays installed as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("c2f_utils.run", "execute a chapter, or plan, check or compute its runs (python -m c2f_utils.run)"),
    "data": ("c2f_utils.data.__main__", "check the real datasets' files, accept a copy (python -m c2f_utils.data)"),
}
"""Subcommand -> (module whose ``main(argv, prog=...)`` it runs, help line)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c2f",
        description="Coarse to fine: run the book's chapters and check their data.",
        epilog="'c2f COMMAND --help' shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_, text) in COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``c2f``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not all(isinstance(a, str) for a in args):
        raise TypeError(f"Expected `argv` as a list of strings, got {argv!r}")
    if args and args[0] in COMMANDS:  # everything after the command is the command's own
        module = importlib.import_module(COMMANDS[args[0]][0])
        return module.main(args[1:], prog=f"c2f {args[0]}")
    parser = _parser()
    parser.parse_args(args)  # --help, --version, or an error naming the commands
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
