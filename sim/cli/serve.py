"""Serve: the local web app, on this computer only."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..common.errors import UserError
from . import options

#: Addresses the app may bind to in this version: this computer only. Another host would
#: need a token printed at start (not built yet), so it is refused.
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
        help="address to bind (default 127.0.0.1; only this computer for now)",
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
    if args.host not in LOOPBACK:
        raise UserError(
            f"--host {args.host}: the app serves this computer only for now (127.0.0.1); "
            "serving other computers needs an access token, which is not built yet"
        )
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
    app = create_app(args.folder)
    host = "[::1]" if args.host == "::1" else "127.0.0.1" if args.host == "localhost" else args.host
    url = f"http://{host}:{args.port}/"
    print(f"sufficiency web app: {url}  (scenarios from {args.folder.resolve()}; Ctrl-C stops it)")
    sys.stdout.flush()
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
