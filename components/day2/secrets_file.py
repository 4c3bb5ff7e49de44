"""Kamal's dotenv secrets file (`.kamal/secrets`) read into names and values. Pure but for commands.

The syntax is dotenv's, as Kamal reads it:

- `KEY=value` lines, optionally `export KEY=value`; blank lines and `# comments`; an unquoted
  value ends at the end of the line or at a ` #` comment, surrounding blanks dropped.
- `'single quoted'`: taken literally, may span lines.
- `"double quoted"`: may span lines; `\\n` and `\\r` are a newline and a carriage return, `\\x` is
  `x` (so `\\"`, `\\\\`, `\\$`); `$VAR`, `${VAR}` and `$(command)` expand, as in unquoted values.
- `$VAR` and `${VAR}` are an earlier key of the file, else the environment. Unlike dotenv, which
  silently substitutes nothing, an unset variable is an error naming the line: an empty secret
  would only fail later, on a host.
- `$(command)` runs `sh -c command` here and takes its stdout, trailing newlines removed. Earlier
  keys the command names reach it as environment variables, never as text spliced into it, so a
  value is never run as code (dotenv splices them in) and never appears in a process list.
- Kamal's adapter pattern: `KEY=$(kamal secrets extract KEY ${SECRETS})` is done here without
  Kamal (it only looks KEY up in the JSON that SECRETS holds, by name or as the last path part),
  and SECRETS, being only its source, is not itself one of the secrets. `kamal secrets fetch` and
  any other `kamal` command need Kamal's password-manager adapters: they run when `kamal` is on
  PATH and are an error naming the line otherwise.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from components.errors import FleetformError

CommandRunner = Callable[[str, Mapping[str, str]], tuple[int, str]]
"""Runs `sh -c COMMAND` with these extra environment variables; returns (status, stdout)."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPORT = re.compile(r"export[ \t]+")
_VARIABLE_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "r": "\r"}


class SecretsFileError(FleetformError):
    """A secrets file that cannot be read; the message starts with `file:line: KEY`."""


@dataclass
class SecretsFile:
    """What a secrets file defines, in file order (a repeated key keeps its last value)."""

    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    """Where each key was (last) defined."""
    extract_sources: set[str] = field(default_factory=set)
    """Keys only read by `kamal secrets extract`: the JSON of a fetch, not a secret to import."""

    @property
    def secrets(self) -> dict[str, str]:
        """The values to import: every key but the sources of `kamal secrets extract`."""
        return {k: v for k, v in self.values.items() if k not in self.extract_sources}


class _Reader:
    def __init__(
        self,
        text: str,
        source: str,
        environ: Mapping[str, str],
        run_command: CommandRunner,
        kamal_installed: bool,
    ) -> None:
        self.text = text
        self.source = source
        self.environ = environ
        self.run_command = run_command
        self.kamal_installed = kamal_installed
        self.position = 0
        self.result = SecretsFile()
        self.key = ""
        self.key_line = 0

    # -- positions and errors

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.position) + 1

    def error(self, problem: str, *, line: int | None = None) -> SecretsFileError:
        where = f"{self.source}:{line or self.line}"
        return SecretsFileError(
            f"{where}: {self.key}: {problem}" if self.key else f"{where}: {problem}"
        )

    def peek(self, offset: int = 0) -> str:
        index = self.position + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_blanks(self) -> None:
        while self.peek() in (" ", "\t", "\r"):
            self.position += 1

    def skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.position)
        self.position = len(self.text) if end < 0 else end

    # -- lines

    def read(self) -> SecretsFile:
        while self.position < len(self.text):
            self.key = ""
            self.skip_blanks()
            if self.peek() == "\n":
                self.position += 1
                continue
            if self.peek() == "#":
                self.skip_to_line_end()
                continue
            if self.peek() == "":
                break
            self.assignment()
        return self.result

    def assignment(self) -> None:
        export = _EXPORT.match(self.text, self.position)
        if export:
            self.position = export.end()
        key = _KEY.match(self.text, self.position)
        if key is None:
            self.skip_to_line_end()
            raise self.error("expected KEY=value, KEY a letter or _ then letters, digits or _")
        self.key, self.key_line = key.group(), self.line
        self.position = key.end()
        self.skip_blanks()
        if self.peek() != "=":
            raise self.error("expected = after the key")
        self.position += 1
        self.skip_blanks()
        quote = self.peek()
        if quote == "'":
            value = self.single_quoted()
        elif quote == '"':
            value = self.double_quoted()
        else:
            value = self.unquoted()
        if quote in ("'", '"'):
            self.skip_blanks()
            if self.peek() not in ("", "\n", "#"):
                raise self.error("unexpected text after the closing quote")
            self.skip_to_line_end()
        self.result.values[self.key] = value
        self.result.lines[self.key] = self.key_line

    def single_quoted(self) -> str:
        start = self.position + 1
        end = self.text.find("'", start)
        if end < 0:
            raise self.error("no closing ' for the value", line=self.key_line)
        self.position = end + 1
        return self.text[start:end]

    def double_quoted(self) -> str:
        self.position += 1
        parts: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error('no closing " for the value', line=self.key_line)
            if char == '"':
                self.position += 1
                return "".join(parts)
            if char == "\\" and self.peek(1):
                escaped = self.peek(1)
                parts.append(_DOUBLE_QUOTE_ESCAPES.get(escaped, escaped))
                self.position += 2
            elif char == "$":
                parts.append(self.expansion())
            else:
                parts.append(char)
                self.position += 1

    def unquoted(self) -> str:
        parts: list[str] = []
        while True:
            char = self.peek()
            if char in ("", "\n"):
                break
            if char == "#" and (not parts or parts[-1][-1:] in (" ", "\t")):
                self.skip_to_line_end()
                break
            if char == "\\" and self.peek(1) == "$":
                parts.append("$")
                self.position += 2
            elif char == "$":
                parts.append(self.expansion())
            else:
                parts.append(char)
                self.position += 1
        return "".join(parts).strip(" \t\r")

    # -- expansions

    def expansion(self) -> str:
        """At a `$`: a variable, a command, or a plain dollar sign."""
        if self.peek(1) == "(":
            return self.command()
        if self.peek(1) == "{":
            end = self.text.find("}", self.position)
            name = self.text[self.position + 2 : end] if end >= 0 else ""
            if not _KEY.fullmatch(name):
                raise self.error("${...} must name a variable, like ${SECRETS}")
            self.position = end + 1
            return self.variable(name)
        name_match = _KEY.match(self.text, self.position + 1)
        if name_match is None:
            self.position += 1
            return "$"
        self.position = name_match.end()
        return self.variable(name_match.group())

    def variable(self, name: str) -> str:
        if name in self.result.values:
            return self.result.values[name]
        if name in self.environ:
            return self.environ[name]
        raise self.error(f"${name} is not set (not an earlier key, not in the environment)")

    def command(self) -> str:
        """`$(...)` up to its balanced closing parenthesis (quotes inside are respected)."""
        line = self.line
        start = self.position + 2
        index, depth, quote = start, 1, ""
        while index < len(self.text):
            char = self.text[index]
            if quote:
                if char == quote:
                    quote = ""
                elif char == "\\" and quote == '"':
                    index += 1
            elif char in ("'", '"'):
                quote = char
            elif char == "\\":
                index += 1
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        else:
            raise self.error("no closing ) for $(", line=line)
        self.position = index + 1
        return self.substitute(self.text[start:index], line)

    def substitute(self, command: str, line: int) -> str:
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        if words[:3] == ["kamal", "secrets", "extract"]:
            return self.extract(words[3:], command, line)
        if words[:1] == ["kamal"] and not self.kamal_installed:
            raise self.error(
                f"`{' '.join(words[:3])}` needs Kamal's secret adapters and kamal is not "
                "installed; fetch with your password manager's own CLI instead (for "
                "`kamal secrets extract`, one that prints a JSON object of names to values), or "
                "install kamal",
                line=line,
            )
        names = {match.group(1) for match in _VARIABLE_REFERENCE.finditer(command)}
        extra = {name: self.result.values[name] for name in names if name in self.result.values}
        status, output = self.run_command(command, extra)
        if status != 0:
            raise self.error(f"$({command}) failed with exit status {status}", line=line)
        return output.rstrip("\n")

    def extract(self, arguments: list[str], command: str, line: int) -> str:
        """Kamal's `secrets extract NAME SECRETS`: NAME's value in the JSON object SECRETS holds."""
        words = [word for word in arguments if word != "--inline"]
        if len(words) != 2:
            raise self.error(
                f"$({command}): expected kamal secrets extract NAME ${{SECRETS}}", line=line
            )
        name, secrets = words
        reference = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", secrets)
        if reference:
            source = reference.group(1)
            secrets = self.variable(source)
            self.result.extract_sources.add(source)
        found = _extract(_fetched_json(secrets), name)
        if found is None:
            raise self.error(
                f"kamal secrets extract: no secret {name} in the fetched JSON", line=line
            )
        return found


def _fetched_json(text: str) -> object:
    """The JSON of a fetch: as printed, or shell-escaped as `kamal secrets fetch` prints it."""
    for candidate in (text, _unescaped(text)):
        if candidate is None:
            continue
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def _unescaped(text: str) -> str | None:
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


def _extract(secrets: object, name: str) -> str | None:
    if not isinstance(secrets, dict):
        return None
    if name in secrets:
        return str(secrets[name])
    for key, value in secrets.items():
        if str(key).endswith(f"/{name}"):
            return str(value)
    return None


def parse_secrets_file(
    text: str,
    *,
    source: str,
    environ: Mapping[str, str],
    run_command: CommandRunner,
    kamal_installed: bool | None = None,
) -> SecretsFile:
    """Reads a whole secrets file, running its commands in file order; the first problem raises
    a SecretsFileError naming `source`, the line and the key."""
    if kamal_installed is None:
        kamal_installed = shutil.which("kamal") is not None
    return _Reader(text, source, environ, run_command, kamal_installed).read()
