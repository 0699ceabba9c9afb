"""`clustergate keys generate DIR [--name NAME]`: a CurveZMQ keypair for a socket or a client.

Writes DIR/NAME.key (the public key, safe to hand out) and DIR/NAME.key_secret (mode 0600, stays
on the machine that uses it). Nothing at either path is overwritten or written through (a symlink: exit 1).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any

from launcher.curve import PUBLIC_SUFFIX, SECRET_SUFFIX, generate_keypair, read_public_key


def cmd_generate(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    name = args.name
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        print(f"clustergate keys generate: name {name!r} must be letters, digits, -, _ or .", file=sys.stderr)
        return 2
    paths = (directory / (name + PUBLIC_SUFFIX), directory / (name + SECRET_SUFFIX))
    existing = [p for p in paths if os.path.lexists(p)]  # a symlink counts, even one pointing nowhere
    try:
        if existing:
            raise FileExistsError(errno.EEXIST, "File exists", str(existing[0]))
        public_file, secret_file = generate_keypair(directory, name)
    except FileExistsError as exc:  # also when one appeared after the look above
        if exc.filename not in {str(p) for p in paths}:  # DIR itself is a file
            print(f"clustergate keys generate: cannot write in {directory}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"clustergate keys generate: {exc.filename} already exists; choose another --name or remove it",
              file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"clustergate keys generate: cannot write in {directory}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"public key  {public_file}  ({read_public_key(public_file).decode()})")
    print(f"secret key  {secret_file}  (mode 0600; keep it on this machine)")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("keys", help="CurveZMQ keys for sockets exposed beyond loopback")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")
    g = keys_sub.add_parser("generate", help="write NAME.key (public) and NAME.key_secret (0600) into DIR")
    g.add_argument("dir", metavar="DIR", help="directory for the certificates (created 0700 if missing)")
    g.add_argument("--name", default="client", help="certificate name, e.g. an actor name or a client (default: client)")
    g.set_defaults(func=cmd_generate)
