"""`clustergate proof readiness|fallback|warm-restart [--topology FILE] [--home DIR]`.

The launcher runs this module as its own process (`python -m proofs.cli ...`): it never imports proofs."""

from __future__ import annotations

import argparse
import importlib
import sys

from launcher.std_streams import ArgumentParser, OutputRefused, say_output_refused
from proofs.common import add_arguments, refuse_options_of_other_proofs

PROOFS = {"readiness": "proofs.readiness", "fallback": "proofs.fallback", "warm-restart": "proofs.warm_restart"}


def cmd_proof(args: argparse.Namespace) -> int:
    return importlib.import_module(PROOFS[args.proof]).main(args=args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proof", help="verify the running system end to end; exit 0 only if every check passes")
    p.add_argument("proof", choices=list(PROOFS))
    add_arguments(p)
    p.set_defaults(func=cmd_proof)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="clustergate proof",
                            description="verify the running system end to end; exit 0 only if every check passes")
    parser.add_argument("proof", choices=list(PROOFS))
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except OutputRefused as exc:  # `--help > /dev/full`
        return say_output_refused("clustergate proof", exc)
    refuse_options_of_other_proofs(parser, args.proof, args)
    return cmd_proof(args)


if __name__ == "__main__":
    sys.exit(main())
