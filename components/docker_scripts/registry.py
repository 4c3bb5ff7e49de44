"""Registry login and logout in a stack's own Docker config dir, credentials on stdin."""

from __future__ import annotations


from components.docker_scripts.shell import host_path, q


LOGIN_FORMAT = "auths-v2"
"""Written beside each login's token: a login of the earlier `docker login` form has a marker
without it, so its delete never removes a login of this form for the same credentials."""


def login_marker(config_dir: str, server: str) -> str:
    return f"{config_dir}/fleetform-login-{server.replace('/', '_').replace(':', '_')}"


def auths_key(server: str) -> str:
    """The `auths` key Docker looks Docker Hub up by; any other registry by its own name."""
    if server in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "https://index.docker.io/v1/"
    return server


def _login_entry(config_dir: str, server: str) -> str:
    return f"{config_dir}/fleetform-auth-{server.replace('/', '_').replace(':', '_')}"


def _write_auths(config_dir: str) -> list[str]:
    """config.json rebuilt from every login's entry, replaced in one rename."""
    directory = host_path(config_dir)
    return [
        f"tmp={directory}/config.json.$$",
        "{ printf '{\"auths\":{'; separator=",
        f"  for entry in {directory}/fleetform-auth-*; do",
        '    [ -f "$entry" ] || continue; printf %s "$separator"; cat "$entry"; separator=,',
        "  done; printf '}}\\n'; } > \"$tmp\"",
        f'mv -f "$tmp" {directory}/config.json',
    ]


def login_script(server: str, username: str | None, config_dir: str, token: str) -> str:
    """Logs in to `server` in the stack's own Docker config dir, credentials from stdin only.

    stdin holds the password, or with `username` None (a secret user name) the user name on its
    first line and the password after it. `docker login` takes a user name only on its command
    line, where `ps` shows it, so the script writes Docker's `auths` entry itself (printf is a
    shell builtin) and has Docker check it (`docker login` with stored credentials) in a private
    config dir first. Each login keeps its entry in a file of its own; config.json is rebuilt
    from them. `token` (a keyed hash of the credentials) marks the login as this resource's, so
    that the delete of a replaced login leaves the new one alone.
    """
    directory = host_path(config_dir)
    key = q(auths_key(server))
    read_user = "IFS= read -r user" if username is None else f"user={q(username)}"
    return "\n".join(
        [
            "set -e",
            "umask 077",
            f"mkdir -p {directory}",
            read_user,
            "password=$(cat)",
            "auth=$(printf '%s:%s' \"$user\" \"$password\" | base64 | tr -d '\\n')",
            "unset password",
            "check=$(mktemp -d)",
            "trap 'rm -rf \"$check\"' EXIT",
            f'printf \'{{"auths":{{"%s":{{"auth":"%s"}}}}}}\\n\' {key} "$auth" '
            '> "$check/config.json"',
            f'if ! docker --config "$check" login {q(server)} </dev/null >/dev/null; then',
            f"  echo {q(server + ': registry login failed')} >&2; exit 1",
            "fi",
            f'printf \'"%s":{{"auth":"%s"}}\' {key} "$auth" '
            f"> {host_path(_login_entry(config_dir, server))}",
            *_write_auths(config_dir),
            f"echo {q(f'{token} {LOGIN_FORMAT}')} > {host_path(login_marker(config_dir, server))}",
        ]
    )


def logout_script(server: str, config_dir: str, token: str) -> str:
    marker = host_path(login_marker(config_dir, server))
    rebuild = "\n".join(f"  {line}" for line in _write_auths(config_dir))
    return (
        f'if [ "$(cat {marker} 2>/dev/null)" = {q(f"{token} {LOGIN_FORMAT}")} ]; then\n'
        f"  rm -f {host_path(_login_entry(config_dir, server))}\n"
        f"{rebuild}\n"
        f"  rm -f {marker}\n"
        "fi"
    )
