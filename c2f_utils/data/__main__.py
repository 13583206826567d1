"""``python -m c2f_utils.data``: check the real datasets' files, or accept a copy of your own.

- ``python -m c2f_utils.data check [NAME ...]``: load every split of the named real datasets
  (default: all) without downloading, and say for each whether its files are there and
  match their checksums;
- ``python -m c2f_utils.data accept PATH``: record the checksum of a valid copy that differs
  from the registered one (a file or a folder of the data folder) in
  ``<data dir>/c2f-registry.txt``, so that it is verified against that from now on.

``--data-dir`` overrides ``$C2F_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from . import DataIntegrityError, DatasetNotFoundError, accept, available, describe, load


def main(argv: list[str] | None = None, *, prog: str = "python -m c2f_utils.data") -> int:
    """Command-line entry point; returns the exit status. ``prog``: the command's name in its
    help and errors (``c2f data`` through :mod:`c2f_utils.cli`)."""
    if not isinstance(prog, str) or not prog:
        raise ValueError(f"Expected `prog` to be a non-empty command name, got {prog!r}")
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="the data folder (default: $C2F_DATA_DIR)")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="verify the files of real datasets")
    check.add_argument("names", nargs="*", help="dataset names (default: every real dataset)")
    accept_cmd = commands.add_parser("accept", help="accept a valid copy that differs from the registered one")
    accept_cmd.add_argument("path", help="a file or folder inside the data folder")
    args = parser.parse_args(argv)
    if args.command == "accept":
        print(f"accepted: {accept(args.path, args.data_dir)}")
        return 0
    unknown = [n for n in args.names if n not in available("real")]
    if unknown:
        parser.error(f"unknown real dataset(s) {unknown}; real datasets: {available('real')}")
    failed = 0
    for name in args.names or available("real"):
        for split in describe(name).splits:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    load(name, split, data_dir=args.data_dir, download=False)
            except DatasetNotFoundError as exc:
                print(f"{name} ({split}): missing. {exc}")
            except DataIntegrityError as exc:
                failed += 1
                print(f"{name} ({split}): DAMAGED. {exc}")
            else:
                print(f"{name} ({split}): ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
