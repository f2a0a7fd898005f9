"""User-facing errors: one message that names the file, the place in it, and what to do.

The command line prints these without a traceback and exits with status 2; anything else
that escapes is a bug in the tool, not a mistake of the user.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A mistake in the user's input that they can fix."""

    exit_code = 2


class ScenarioError(UserError):
    """A mistake in a scenario (or other input) file, as one message the user can act on.

    It names the file, the line and key when known, the problem, and what was expected.
    """

    def __init__(
        self,
        file: str | Path,
        problem: str,
        key: str | None = None,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = str(file)
        self.key = key
        self.line = line
        self.problem = problem
        self.expected = expected
        super().__init__(self.render())

    def render(self) -> str:
        """The one-line message: 'file:line: [key] problem (expected ...)'."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        parts = [where + ":"]
        if self.key:
            parts.append(f"[{self.key}]")
        parts.append(self.problem)
        text = " ".join(parts)
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class OutputExistsError(UserError):
    """The output file or folder exists and may not (or cannot) be replaced."""
