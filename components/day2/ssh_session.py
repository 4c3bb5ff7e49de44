"""SSH sessions to a stack's hosts with the system `ssh` client, pinned exactly as the deploy pins.

The client trusts only the keys the stack pins (`fleetform:hostKeys`, `fleetform:knownHostsFile`),
written to a known_hosts file of its own, and offers only the stack's key (`sshPrivateKeyPath`,
or the secret `sshPrivateKey` written to a 0600 file). Both files live in a 0700 directory that
is removed when the session ends. The user's ssh config is not read, as the deploy reads none.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from components.config import load_config
from components.config.model import JumpHostConfig
from components.day2.stack_access import ROOT, StackAccessError, StackReader
from components.errors import DeployConfigError
from components.host_key_check import fingerprint
from components.known_hosts import (
    HostKeys,
    host_entry_name,
    parse_host_keys_setting,
    read_known_hosts,
)

CONNECT_TIMEOUT_SECONDS = 10
SSH_FAILURE = 255
"""What `ssh` exits with when it cannot connect or authenticate."""
_CHANGED_HOST = re.compile(r"Host key for (\S+) has changed")
_OFFERED_KEY = re.compile(
    r"The fingerprint for the (\S+) key sent by the remote host is\s+(SHA256:[A-Za-z0-9+/]+)"
)


@dataclass(frozen=True)
class Session:
    """One remote script on one host, labelled for the output."""

    host: str
    label: str
    """What prefixes its lines: `[10.203.0.11 web]`."""
    script: str


@dataclass(frozen=True)
class Finished:
    session: Session
    returncode: int
    stdout: str
    stderr: str


LineHandler = Callable[[Session, str, bool], None]
"""Called with a session, one line of its output (without the newline) and whether it is stderr."""


def _spawn(argv: list[str], *, stdin: int) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        raise StackAccessError("ssh: the OpenSSH client is not installed") from None


class SshAccess:
    """A context manager: pinned known_hosts and key files for the stack's hosts, removed on exit."""

    def __init__(self, reader: StackReader, hosts: Iterable[str]) -> None:
        self.reader = reader
        self.hosts = tuple(dict.fromkeys(hosts))
        self.user = "root"
        self.port = 22
        self.jump: JumpHostConfig | None = None
        self.keys_only: bool | None = None
        self.jump_key: str | None = None
        self._directory: Path | None = None
        self._key_file: Path | None = None
        self._known_hosts: Path | None = None
        self.pinned: dict[str, str] = {}
        """Host to the public key the session trusts for it."""

    def __enter__(self) -> SshAccess:
        deploy_file = self.reader.setting("deployFile") or "config/deploy.yml"
        deploy = load_config(ROOT / deploy_file, self.reader.setting("destination"))
        self.user, self.port = deploy.ssh.user, deploy.ssh.port
        self.jump = deploy.ssh.proxy
        self.keys_only = deploy.ssh.keys_only
        host_keys = self._host_keys()
        self.pinned = {host: host_keys.key_for(host, self.port) for host in self.hosts}
        lines = [f"{host_entry_name(host, self.port)} {key}\n" for host, key in self.pinned.items()]
        if self.jump is not None:
            # The jump host is pinned in the same file, exactly as the deploy pins it.
            try:
                self.jump_key = host_keys.key_for(self.jump.host, self.jump.port)
            except DeployConfigError as error:
                raise DeployConfigError(f"ssh/proxy: {error}") from None
            lines.append(f"{host_entry_name(self.jump.host, self.jump.port)} {self.jump_key}\n")
        self._directory = Path(tempfile.mkdtemp(prefix="fleetform-ssh-"))
        try:
            self._known_hosts = self._private_file("known_hosts", "".join(lines))
            key_path = self.reader.setting("sshPrivateKeyPath")
            if key_path:
                self._key_file = Path(key_path).expanduser()
                if not self._key_file.is_file():
                    raise StackAccessError(
                        f"fleetform:sshPrivateKeyPath: no such file (got '{key_path}')"
                    )
            elif self.reader.has_setting("sshPrivateKey"):
                key = self.reader.secret("sshPrivateKey")
                self._key_file = self._private_file(
                    "key", key if key.endswith("\n") else key + "\n"
                )
            elif deploy.ssh.key_data:
                self._key_file = self._private_file("key", deploy.ssh.key_data[0])
            elif deploy.ssh.keys:
                # deploy.yml's ssh/keys, as the deploy itself uses when the stack sets no key.
                self._key_file = Path(deploy.ssh.keys[0]).expanduser()
            else:
                raise StackAccessError(
                    "fleetform:sshPrivateKeyPath: not set, and no secret fleetform:sshPrivateKey"
                )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def _host_keys(self) -> HostKeys:
        known_hosts_file = self.reader.setting("knownHostsFile")
        known_hosts = (
            read_known_hosts(Path(known_hosts_file).expanduser()) if known_hosts_file else None
        )
        pinned = self.reader.settings().get("hostKeys")
        text = pinned if isinstance(pinned, str) or pinned is None else json.dumps(pinned)
        return HostKeys(parse_host_keys_setting(text), known_hosts)

    def _private_file(self, name: str, content: str) -> Path:
        assert self._directory is not None
        path = self._directory / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        return path

    def _options(self) -> list[str]:
        """Pinned host keys, the stack's key, time limits; for the host and the jump alike."""
        assert self._known_hosts is not None and self._key_file is not None
        options = [
            "-F", "none",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self._known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT_SECONDS}",
            "-o", "ServerAliveInterval=15",
            "-o", "LogLevel=ERROR",
            "-i", str(self._key_file),
        ]  # fmt: skip
        # The deploy offers its one key and nothing else (pulumi-command never falls back to an
        # agent); ssh may still let an agent sign for that same key unless keys_only says no.
        options += ["-o", "IdentitiesOnly=yes"]
        if self.keys_only:
            options += ["-o", "IdentityAgent=none"]
        return options

    def _jump_options(self) -> list[str]:
        """`ssh -J` would dial the jump host with the user's own config and keys; a ProxyCommand
        carries the same pins and key to it."""
        if self.jump is None:
            return []
        jump = [
            "ssh", *self._options(),
            "-p", str(self.jump.port), "-l", self.jump.user, "-W", "%h:%p", self.jump.host,
        ]  # fmt: skip
        return ["-o", f"ProxyCommand={shlex.join(jump)}"]

    def argv(self, host: str, script: str, *, interactive: bool = False) -> list[str]:
        """The `ssh` command line that runs `script` on `host` (a terminal with `interactive`)."""
        argv = [
            "ssh",
            *self._options(),
            *self._jump_options(),
            "-p",
            str(self.port),
            "-l",
            self.user,
        ]
        argv.append("-t" if interactive else "-T")
        return [*argv, host, "--", script]

    def explain(self, host: str, returncode: int, stderr: str) -> str:
        """`stderr` of a session, ssh's wall of text about a changed host key made one line."""
        if returncode != SSH_FAILURE or "Host key verification failed" not in stderr:
            return stderr
        offered = _OFFERED_KEY.search(stderr)
        what = f"{offered.group(1)} {offered.group(2)}" if offered else "another key"
        who, pinned = "the host", self.pinned[host]
        changed = _CHANGED_HOST.search(stderr)
        if self.jump is not None and self.jump_key is not None and changed is not None:
            jump_name = host_entry_name(self.jump.host, self.jump.port)
            if changed.group(1).lower() in (jump_name, self.jump.host.lower()):
                who, pinned = f"the jump host {self.jump.host} (ssh/proxy)", self.jump_key
        return (
            f"host key mismatch: {who} offered {what}, but {fingerprint(pinned)} "
            "is pinned (fleetform:knownHostsFile / fleetform:hostKeys)\n"
        )

    def run_interactive(self, session: Session) -> int:
        """Runs one session on this terminal (stdin, stdout and stderr are the user's)."""
        try:
            return subprocess.run(
                self.argv(session.host, session.script, interactive=True)
            ).returncode
        except FileNotFoundError:
            raise StackAccessError("ssh: the OpenSSH client is not installed") from None

    def run_all(self, sessions: Sequence[Session]) -> list[Finished]:
        """Runs the sessions in parallel and returns their output, in the order given."""
        processes: list[subprocess.Popen[str]] = []
        try:
            for session in sessions:
                processes.append(
                    _spawn(self.argv(session.host, session.script), stdin=subprocess.DEVNULL)
                )
            outputs = [process.communicate() for process in processes]
        finally:
            _stop(processes)
        return [
            Finished(
                session,
                process.returncode,
                out,
                self.explain(session.host, process.returncode, err),
            )
            for session, process, (out, err) in zip(sessions, processes, outputs, strict=True)
        ]

    def stream_all(self, sessions: Sequence[Session], line: LineHandler) -> list[int]:
        """Runs the sessions in parallel, calling `line(session, text, is_stderr)` for each line
        of stdout as it arrives and for stderr when the session ends (the scripts send their
        output to stdout; stderr is ssh's and the scripts' own errors). Returns the exit
        statuses; a KeyboardInterrupt stops every session."""
        processes: list[subprocess.Popen[str]] = []
        readers: list[threading.Thread] = []
        errors: list[list[str]] = []
        try:
            for session in sessions:
                # stdin is held open and never written: its EOF tells the host the client left.
                process = _spawn(self.argv(session.host, session.script), stdin=subprocess.PIPE)
                processes.append(process)
                errors.append([])
                assert process.stdout is not None and process.stderr is not None
                readers += [
                    threading.Thread(
                        target=_pump, args=(process.stdout, session, line), daemon=True
                    ),
                    threading.Thread(
                        target=_collect, args=(process.stderr, errors[-1]), daemon=True
                    ),
                ]
                readers[-2].start()
                readers[-1].start()
            for reader in readers:
                while reader.is_alive():
                    reader.join(0.2)
            statuses = [process.wait() for process in processes]
        finally:
            _stop(processes)
        for session, status, collected in zip(sessions, statuses, errors, strict=True):
            for text in self.explain(session.host, status, "".join(collected)).splitlines():
                line(session, text, True)
        return statuses


def _pump(stream: IO[str], session: Session, line: LineHandler) -> None:
    for text in stream:
        line(session, text.rstrip("\n"), False)


def _collect(stream: IO[str], into: list[str]) -> None:
    into.extend(stream)


def _stop(processes: Sequence[subprocess.Popen[str]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdin is not None:
            process.stdin.close()
