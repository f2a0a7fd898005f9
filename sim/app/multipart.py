"""Reading a form upload (multipart/form-data) as it arrives, within size limits: the
generic part of the web app's uploads, knowing nothing of scenarios or SSDA903 data.

The form is read with python-multipart's streaming parser, not Starlette's form reader, so
the size limits hold whatever Content-Length claims, and nothing is spooled to the
system's temporary folder: each file's bytes go, as they arrive, where the caller's
`Opener` says (memory, a file of its own, or nowhere), and the caller may refuse a file by
its field and name before a byte of it is written. Kept apart so that the one place that
parses what a browser sends is small enough to read whole.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from ..common.errors import UserError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MB = 1_000_000  # as `load` counts: a megabyte is a million bytes
#: Room in a request for the form's own fields and each part's headers, beyond the files.
FORM_SLACK = 64 * 1024
#: Longest text field taken (a date, a name).
FIELD_LIMIT = 1000


class UploadError(UserError):
    """An upload the app refuses: the message shown beside the form's `field`, with the
    HTTP status (413: too large; 422: what it holds; 400: not a form upload at all)."""

    def __init__(
        self,
        message: str,
        status: int = 422,
        field: str = "files",
        more: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.more = more or {}

    def by_field(self, fields: tuple[str, ...]) -> dict[str, str]:
        """Every mistake found, by the form field it is shown beside: one of `fields`
        (a field the form does not have, say an unknown one too long, goes by the first)."""
        found = {**self.more, self.field: str(self)}
        return {(k if k in fields else fields[0]): v for k, v in found.items()}


def mb(n: int) -> str:
    """A limit in bytes as people say it: "1 MB"."""
    return f"{n / MB:g} MB"


def shown(name: str) -> str:
    """A name from the user's upload, quoted and cut short, for a message."""
    return repr(name if len(name) <= 60 else name[:57] + "...")


class Sink(Protocol):
    """Where a file's bytes go as they arrive: a file on disk, memory, or nowhere."""

    def write(self, data: bytes, /) -> int:
        """Take the next bytes."""
        ...

    def close(self) -> None:
        """The file has ended (or the upload has stopped)."""
        ...


class Discard:
    """Where the bytes of a file that is not needed go (a README chosen with the CSVs)."""

    def write(self, data: bytes, /) -> int:
        """Drop them."""
        return len(data)

    def close(self) -> None:
        """Nothing to close."""


class Memory(io.BytesIO):
    """A file held in memory whose bytes stay readable once it is closed."""

    data = b""

    def close(self) -> None:
        """Keep the bytes, then close."""
        if not self.closed:
            self.data = self.getvalue()
        super().close()


@dataclass
class Received:
    """A file of the form: its field, its base name as the browser sent it, its size, and
    where its bytes were written."""

    field: str
    name: str
    target: Sink
    size: int = 0


#: Given a file's field and base name, where its bytes go (raises UploadError to refuse it).
Opener = Callable[[str, str], Sink]


class _Parts:
    """python-multipart's callbacks for one form: each part's headers, its text (short)
    or its file's bytes, written where `open_file` says and counted against `file_limit`."""

    def __init__(self, open_file: Opener, file_limit: int, too_large: str) -> None:
        self.open_file = open_file
        self.file_limit = file_limit
        self.too_large = too_large
        self.fields: dict[str, str] = {}
        self.files: list[Received] = []
        self.ended = False
        self._headers: dict[str, str] = {}
        self._header = bytearray()
        self._value = bytearray()
        self._name = ""
        self._text: bytearray | None = None
        self._file: Received | None = None

    def callbacks(self) -> MultipartCallbacks:
        """The callbacks, by python-multipart's names."""
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, a, b: self._header.extend(d[a:b]),
            "on_header_value": lambda d, a, b: self._value.extend(d[a:b]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
            "on_end": self._finish,
        }

    def _begin(self) -> None:
        self._headers = {}
        self._name, self._text, self._file = "", None, None

    def _header_end(self) -> None:
        key = self._header.decode("latin-1").strip().lower()
        self._headers[key] = self._value.decode("utf-8", "replace")
        self._header.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in params:
            self._text = bytearray()
            return
        filename = re.split(r"[\\/]", params[b"filename"].decode("utf-8", "replace"))[-1]
        if filename:  # an empty file control sends a part with an empty name, no bytes
            self._file = Received(self._name, filename, self.open_file(self._name, filename))
            self.files.append(self._file)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.size += end - start
            if self._file.size > self.file_limit:
                raise UploadError(self.too_large, 413)
            self._file.target.write(data[start:end])
        elif self._text is not None:
            if len(self._text) + end - start > FIELD_LIMIT:
                raise UploadError(
                    f"the form's {self._name or 'text'} is longer than {FIELD_LIMIT} characters",
                    field=self._name,
                )
            self._text.extend(data[start:end])

    def _end(self) -> None:
        if self._text is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace").strip()
        self._text, self._file = None, None

    def _finish(self) -> None:
        self.ended = True


async def read_form(
    request: Request, body_limit: int, open_file: Opener, file_limit: int, too_large: str
) -> _Parts:
    """Read a multipart form as it arrives: text fields kept, files written where
    `open_file` says; more than `body_limit` bytes in all, or a file over `file_limit`,
    stops it with `too_large` (413). The files are closed however it ends."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(
            "the upload did not come from the app's form (it must be sent as "
            "multipart/form-data): use the form on the app's first page",
            400,
        )
    parts = _Parts(open_file, file_limit, too_large)
    parser = MultipartParser(boundary, parts.callbacks())
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > body_limit:
                raise UploadError(too_large, 413)
            parser.write(chunk)
        parser.finalize()
    except (FormParserError, ClientDisconnect):
        raise UploadError("the upload was cut short or garbled: try again", 400) from None
    finally:
        for received in parts.files:
            received.target.close()
    if not parts.ended:
        raise UploadError("the upload was cut short: try again", 400)
    return parts
