"""`clustergate proof readiness|fallback|warm-restart [--topology FILE] [--home DIR]`."""

from __future__ import annotations

import argparse
import importlib

from proofs.common import add_arguments

PROOFS = {"readiness": "proofs.readiness", "fallback": "proofs.fallback", "warm-restart": "proofs.warm_restart"}


def cmd_proof(args: argparse.Namespace) -> int:
    return importlib.import_module(PROOFS[args.proof]).main(args=args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proof", help="verify the running system end to end; exit 0 only if every check passes")
    p.add_argument("proof", choices=list(PROOFS))
    add_arguments(p)
    p.set_defaults(func=cmd_proof)
