"""Pinned host keys by (host, port): known_hosts (plain, `[host]:port`, hashed) and hostKeys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from pathlib import Path

import pytest

from components.errors import DeployConfigError
from components.known_hosts import (
    HostKeys,
    host_entry_name,
    parse_host_keys_setting,
    parse_known_hosts,
    read_known_hosts,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ED25519_DATA = "AAAAC3NzaC1lZDI1NTE5AAAAIHxByZxmZLuX/nJGteSMw+kW0iHYZEmfu9Qt91vfZ6/M"
# The keys tests/fixtures/known_hosts_hashed pins (hashed there by ssh-keygen -H).
HASHED_KEYS = {
    "10.0.0.1": f"ssh-ed25519 {ED25519_DATA}",
    "[10.0.0.2]:2222": (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEtXjSgMy4wsEwiyD9r1MoI1rt6UUvvWA/fg1kEbRFlO"
    ),
}


def fake_key(key_type: str = "ssh-ed25519") -> str:
    """A public key line whose blob names its type, as a real one does; the rest is random."""
    name = key_type.encode()
    blob = struct.pack(">I", len(name)) + name + os.urandom(32)
    return f"{key_type} {base64.b64encode(blob).decode()}"


def hashed_name(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_entry_names_follow_openssh() -> None:
    assert host_entry_name("10.0.0.1", 22) == "10.0.0.1"
    assert host_entry_name("Web.Example.com", 2222) == "[web.example.com]:2222"


def test_plain_entries_pin_port_22_only() -> None:
    key = fake_key()
    known = parse_known_hosts(f"10.0.0.1 {key} root@host\n")
    assert known.lookup("10.0.0.1") == key
    assert known.lookup("10.0.0.1", 2222) is None


def test_bracketed_entries_pin_their_port_only() -> None:
    # The old parser turned `[10.0.0.1]:2222` into `10.0.0.1`, pinning it for port 22 as well.
    key = fake_key()
    known = parse_known_hosts(f"[10.0.0.1]:2222 {key}\n")
    assert known.lookup("10.0.0.1", 2222) == key
    assert known.lookup("10.0.0.1", 22) is None
    assert known.lookup("10.0.0.1", 2200) is None


def test_hashed_entries_written_by_ssh_keygen() -> None:
    known = read_known_hosts(FIXTURES / "known_hosts_hashed")
    assert known.lookup("10.0.0.1") == HASHED_KEYS["10.0.0.1"]
    assert known.lookup("10.0.0.2", 2222) == HASHED_KEYS["[10.0.0.2]:2222"]
    assert known.lookup("10.0.0.2") is None
    assert known.lookup("WEB.example.com") == known.lookup("10.0.0.3")
    assert known.lookup("web.example.com", 2222) is None
    assert known.lookup("10.0.0.9") is None


def test_hashed_entry_with_a_port() -> None:
    key = fake_key()
    known = parse_known_hosts(f"{hashed_name('[db.internal]:2200')} {key}\n")
    assert known.lookup("db.internal", 2200) == key
    assert known.lookup("db.internal") is None


def test_several_names_wildcards_and_negations() -> None:
    key, other = fake_key(), fake_key()
    known = parse_known_hosts(
        "# a comment\n"
        "\n"
        f"a.example.com,10.0.0.5 {key}\n"
        f"!bad.example.com,*.example.com {other}\n"
    )
    assert known.lookup("10.0.0.5") == key
    assert known.lookup("a.example.com") == key
    assert known.lookup("b.example.com") == other
    assert known.lookup("bad.example.com") is None
    assert known.lookup("example.com") is None


def test_strongest_key_type_wins_and_markers() -> None:
    rsa, ecdsa, ed25519 = fake_key("ssh-rsa"), fake_key("ecdsa-sha2-nistp256"), fake_key()
    known = parse_known_hosts(
        f"h1 {rsa}\nh1 {ed25519}\nh1 {ecdsa}\n"
        f"@cert-authority *.example.com {fake_key()}\n"
        f"h2 {ed25519}\nh2 {ecdsa}\n@revoked h2 {ed25519}\n"
        "h3 ssh-ed25519\n"
    )
    assert known.lookup("h1") == ed25519
    assert known.lookup("x.example.com") is None
    assert known.lookup("h2") == ecdsa
    assert known.lookup("h3") is None


def test_missing_known_hosts_file(tmp_path: Path) -> None:
    with pytest.raises(DeployConfigError) as error:
        read_known_hosts(tmp_path / "nope")
    assert str(error.value) == f"fleetform:knownHostsFile: no such file (got '{tmp_path}/nope')"


def test_host_keys_setting_wins_over_known_hosts_and_knows_ports() -> None:
    from_file, pinned, pinned_port = fake_key(), fake_key(), fake_key()
    host_keys = HostKeys(
        parse_host_keys_setting(
            json.dumps({"10.0.0.1": pinned, "[10.0.0.1]:2222": f"{pinned_port} comment"})
        ),
        parse_known_hosts(f"10.0.0.1 {from_file}\n10.0.0.2 {from_file}\n"),
    )
    assert host_keys.key_for("10.0.0.1") == pinned
    assert host_keys.key_for("10.0.0.1", 2222) == pinned_port
    assert host_keys.key_for("10.0.0.1", 2200) == pinned
    assert host_keys.key_for("10.0.0.2") == from_file
    # Dict-like access means port 22, or a (host, port) tuple.
    assert host_keys["10.0.0.2"] == from_file and "10.0.0.2" in host_keys
    assert host_keys[("10.0.0.1", 2222)] == pinned_port
    assert ("10.0.0.2", 2222) not in host_keys
    with pytest.raises(KeyError):
        host_keys["10.0.0.3"]


def test_no_pinned_key_names_the_host_and_port() -> None:
    host_keys = HostKeys(known_hosts=parse_known_hosts(f"10.0.0.1 {fake_key()}\n"))
    with pytest.raises(DeployConfigError) as error:
        host_keys.key_for("10.0.0.1", 2222)
    assert str(error.value) == (
        "[10.0.0.1]:2222: no pinned host key (set fleetform:hostKeys or fleetform:knownHostsFile)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ssh-ed25519",
            "fleetform:hostKeys: must be a map of host to public key like "
            "'ssh-ed25519 AAAA...' (got 'ssh-ed25519')",
        ),
        (
            '["10.0.0.1"]',
            "fleetform:hostKeys: must be a map of host to public key like "
            "'ssh-ed25519 AAAA...' (got a list)",
        ),
        (
            '{"10.0.0.1": "AAAAC3NzaC1lZDI1NTE5"}',
            "fleetform:hostKeys/10.0.0.1: must be 'type base64', like 'ssh-ed25519 AAAA...' "
            "(got 'AAAAC3NzaC1lZDI1NTE5')",
        ),
        (
            '{"10.0.0.1": 7}',
            "fleetform:hostKeys/10.0.0.1: must be a public key string like "
            "'ssh-ed25519 AAAA...' (got 7)",
        ),
        (
            '{"10.0.0.1": "ssh-ed25519 not-base64!"}',
            "fleetform:hostKeys/10.0.0.1: the key data is not base64 of an SSH public key "
            "(got 'ssh-ed25519 not-base64!')",
        ),
        (
            json.dumps({"10.0.0.1": f"ssh-rsa {ED25519_DATA}"}),
            "fleetform:hostKeys/10.0.0.1: the key data is of type ssh-ed25519, not "
            f"ssh-rsa (got 'ssh-rsa {ED25519_DATA}')",
        ),
    ],
)
def test_malformed_host_keys_setting(text: str, message: str) -> None:
    with pytest.raises(DeployConfigError) as error:
        parse_host_keys_setting(text)
    assert str(error.value) == message


def test_unset_host_keys_setting() -> None:
    assert parse_host_keys_setting(None) == {}
    assert parse_host_keys_setting("") == {}
