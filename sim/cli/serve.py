"""Serve: the web app, on this computer only unless --host says otherwise (then with a token)."""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from ..common.errors import UserError
from . import options

#: Addresses of this computer only: the app binds to one of these unless told otherwise,
#: and needs no token there. Any other --host serves other computers, with a token.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_port(text: str) -> int:
    """--port: a TCP port from 1024 to 65535 (lower ones need an administrator)."""
    value = int(options.parse_number(text, int, "a port number"))
    if not 1024 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1024 to 65535, got {value}")
    return value


def add_parser(sub: Any) -> None:
    """The command's options."""
    p = sub.add_parser(
        "serve", help="start the web app on this computer (levers, comparisons, downloads)"
    )
    p.add_argument("--port", type=parse_port, default=8050, help="port (default 8050)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this computer only); another, e.g. "
        "0.0.0.0, serves other computers, each needing the access token printed at start",
    )
    p.add_argument("--open", action="store_true", help="open the app in the web browser")
    p.add_argument(
        "--folder",
        type=options.parse_path,
        default=Path("."),
        help="folder the app reads scenarios from (default: the current folder)",
    )
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Start the server and print its address; runs until stopped (Ctrl-C)."""
    try:
        import uvicorn

        from ..app.server import create_app
    except ImportError as exc:
        raise UserError(
            f"the web app needs its extra packages ({exc.name} is missing): "
            'pip install "sufficiency[app]"'
        ) from None
    if not args.folder.is_dir():
        raise UserError(f"--folder {args.folder}: no such folder")
    if args.host in LOOPBACK:
        app = create_app(args.folder)
        host = {"::1": "[::1]", "localhost": "127.0.0.1"}.get(args.host, args.host)
        url = f"http://{host}:{args.port}/"
        print(
            f"sufficiency web app: {url}  (scenarios from {args.folder.resolve()}; Ctrl-C stops it)"
        )
    else:
        token = secrets.token_urlsafe(24)
        app = create_app(args.folder, token=token)
        shown = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
        shown = f"[{shown}]" if ":" in shown else shown
        url = f"http://{shown}:{args.port}/?token={token}"
        print(
            f"sufficiency web app for other computers: {url}\n"
            f"  (scenarios from {args.folder.resolve()}; Ctrl-C stops it)\n"
            "  Anyone with this address can run the app and read its scenarios: give it only "
            "to colleagues, and use it on a network you trust (the connection is not "
            "encrypted)."
        )
    sys.stdout.flush()
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
