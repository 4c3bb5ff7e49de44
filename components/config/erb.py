"""The ERB subset Kamal deploy files use: environment variables, substituted as text before YAML.

Supported, with any whitespace inside the tag:
- `<%= ENV["NAME"] %>` and `<%= ENV['NAME'] %>`: the variable, or "" when unset (Ruby's nil);
- `<%= ENV.fetch("NAME") %>`: the variable; unset is an error naming the file and line;
- `<%= ENV.fetch("NAME", "default") %>`: the variable, or the default (no escapes in it).

No Ruby runs. Any other tag is an error naming the file, the line and the tag. A value that spans
lines is refused too: pasted into the YAML text it would change the structure around it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from components.errors import DeployConfigError

SUPPORTED = (
    """<%= ENV["NAME"] %>, <%= ENV['NAME'] %>, <%= ENV.fetch("NAME") %> and """
    """<%= ENV.fetch("NAME", "default") %>"""
)
_NAME = r"(?P<quote>[\"'])(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P=quote)"
_ENV_INDEX = re.compile(rf"<%=\s*ENV\s*\[\s*{_NAME}\s*\]\s*%>")
_ENV_FETCH = re.compile(
    rf"<%=\s*ENV\.fetch\s*\(\s*{_NAME}\s*"
    r"""(?:,\s*(?:"(?P<double>[^"\\]*)"|'(?P<single>[^'\\]*)')\s*)?\)\s*%>"""
)
# In a double-quoted Ruby string these start an interpolation, which would run Ruby.
_INTERPOLATION = re.compile(r"#[{@$]")


def _shown(tag: str) -> str:
    return repr(tag if len(tag) <= 80 else tag[:77] + "...")


def _value(tag: str, environ: Mapping[str, str], where: str) -> str:
    index = _ENV_INDEX.fullmatch(tag)
    if index is not None:
        return environ.get(index["name"], "")
    fetch = _ENV_FETCH.fullmatch(tag)
    if fetch is None or (fetch["double"] and _INTERPOLATION.search(fetch["double"])):
        raise DeployConfigError(
            f"{where}: unsupported ERB tag; fleetform supports only {SUPPORTED} "
            f"(got {_shown(tag)})"
        )
    name = fetch["name"]
    if name in environ:
        return environ[name]
    default = fetch["double"] if fetch["double"] is not None else fetch["single"]
    if default is None:
        raise DeployConfigError(f'{where}: ENV.fetch("{name}"): not set')
    return default


def render_erb(
    text: str, *, source: str, environ: Mapping[str, str], multiline_values: bool = False
) -> str:
    """`text` with every supported tag replaced by its value; `source` names the file in errors.

    `multiline_values` lets a value span lines: right for a file's content, never for YAML.
    """
    parts: list[str] = []
    position = 0
    while (start := text.find("<%", position)) >= 0:
        where = f"{source}:{text.count(chr(10), 0, start) + 1}"
        end = text.find("%>", start + 2)
        if end < 0:
            line_end = text.find("\n", start)
            rest = text[start : line_end if line_end >= 0 else len(text)]
            raise DeployConfigError(
                f"{where}: ERB tag without its closing '%>' (got {_shown(rest)})"
            )
        tag = text[start : end + 2]
        value = _value(tag, environ, where)
        if not multiline_values and ("\n" in value or "\r" in value):
            raise DeployConfigError(
                f"{where}: {tag.removeprefix('<%=').removesuffix('%>').strip()}: the value spans "
                f"several lines, which would change the YAML around it"
            )
        parts += [text[position:start], value]
        position = end + 2
    return "".join(parts) + text[position:] if parts else text
