"""SshCommand: a shell script run on a host over SSH, as a Pulumi resource.

It has the model of pulumi-command's `remote.Command` (create on creation, delete on deletion,
stdin for secrets, a pinned host key, replacement when triggers change). It exists because the
`pulumi-resource-command` provider cannot be built from the Go modules served here (see
docs/toolchain.md); swapping back means constructing `remote.Command` with the same arguments.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

# Inputs whose change means "run this command again as a new resource". Changing only how we
# log in (key material) must not redeploy anything.
_REPLACE_ON = ("create", "delete", "triggers", "stdin")
_CONNECTION_IDENTITY = ("host", "port", "user")


@dataclass(frozen=True)
class SshConnection:
    """How to reach one host. The private key stays a Pulumi secret end to end."""

    host: str
    port: int
    user: str
    private_key: pulumi.Output[str]
    host_key: str
    """`ssh-ed25519 AAAA…`: a host that answers with another key is refused."""

    def as_input(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "private_key": self.private_key,
            "host_key": self.host_key,
        }


class SshCommandError(Exception):
    """A remote script failed; the message is what the operator needs, without a traceback."""


def _load_private_key(text: str) -> Any:
    import paramiko

    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise SshCommandError("connection/private_key: not an Ed25519, ECDSA or RSA private key")


def run_over_ssh(connection: dict[str, Any], script: str, stdin: str | None) -> tuple[str, str]:
    """Runs `script` with the login shell of the remote user; returns (stdout, stderr)."""
    import paramiko

    host, port = connection["host"], int(connection["port"])
    key_type, _, key_data = connection["host_key"].partition(" ")
    client = paramiko.SSHClient()
    entry = host if port == 22 else f"[{host}]:{port}"
    client.get_host_keys().add(
        entry,
        key_type,
        paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data.split()[0])),
    )
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            host,
            port=port,
            username=connection["user"],
            pkey=_load_private_key(connection["private_key"]),
            look_for_keys=False,
            allow_agent=False,
            timeout=15,
            banner_timeout=15,
            auth_timeout=15,
        )
    except paramiko.BadHostKeyException as error:
        raise SshCommandError(
            f"{host}: host key mismatch: the host offered {error.key.get_name()} "
            f"{error.key.get_base64()[:16]}…, which is not the pinned key"
        ) from None
    except (paramiko.SSHException, OSError) as error:
        raise SshCommandError(f"{host}: cannot connect over SSH: {error}") from None
    try:
        channel_in, channel_out, channel_err = client.exec_command(script)
        if stdin:
            channel_in.write(stdin)
        channel_in.channel.shutdown_write()
        stdout = channel_out.read().decode(errors="replace")
        stderr = channel_err.read().decode(errors="replace")
        status = channel_out.channel.recv_exit_status()
    finally:
        client.close()
    if status != 0:
        detail = stderr.strip() or stdout.strip() or "no output"
        raise SshCommandError(f"{host}: exit {status}: {detail}")
    return stdout, stderr


def _fingerprint(props: dict[str, Any], key: str) -> str:
    return hashlib.sha256(json.dumps(props.get(key), sort_keys=True).encode()).hexdigest()


class _SshCommandProvider(ResourceProvider):
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        stdout, stderr = run_over_ssh(props["connection"], props["create"], props.get("stdin"))
        resource_id = hashlib.sha256(
            f"{props['connection']['host']}\n{props['create']}".encode()
        ).hexdigest()[:16]
        return CreateResult(resource_id, {**props, "stdout": stdout.strip(), "stderr": stderr})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [
            key for key in _REPLACE_ON if _fingerprint(olds, key) != _fingerprint(news, key)
        ]
        old_connection, new_connection = olds.get("connection", {}), news.get("connection", {})
        replaces += [
            f"connection.{key}"
            for key in _CONNECTION_IDENTITY
            if old_connection.get(key) != new_connection.get(key)
        ]
        credentials_changed = any(
            old_connection.get(key) != new_connection.get(key)
            for key in ("private_key", "host_key")
        )
        return DiffResult(
            changes=bool(replaces) or credentials_changed,
            replaces=replaces,
            delete_before_replace=False,
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Only credentials can change without a replacement: keep the command's results.
        return UpdateResult({**_olds, "connection": news["connection"]})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete"):
            run_over_ssh(props["connection"], props["delete"], None)


class SshCommand(Resource, module="fleetform", name="SshCommand"):
    """One script on one host: `create` runs once, `delete` when the resource goes away."""

    stdout: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        connection: SshConnection,
        create: pulumi.Input[str],
        delete: pulumi.Input[str] | None = None,
        stdin: pulumi.Input[str] | None = None,
        triggers: pulumi.Input[list[Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _SshCommandProvider(),
            name,
            {
                "connection": connection.as_input(),
                "create": create,
                "delete": delete,
                "stdin": stdin,
                "triggers": triggers or [],
                "stdout": None,
            },
            opts,
        )
