"""drift's comparison of a stack's state with what its hosts run: pure, per container."""

from __future__ import annotations

from components.day2.drift import Expected, Running, compare, parse_ps, ps_script

WEB = Expected("10.0.0.1", "role", "web", "hello-web-dev", "a" * 64, "repo@sha256:1")


def statuses(expected: list[Expected], actual: dict[str, list[Running]]) -> set[tuple[str, str]]:
    return {(f.name, f.status) for f in compare(expected, actual)}


def test_a_running_container_with_its_image_is_ok() -> None:
    actual = {"10.0.0.1": [Running("a" * 64, "running", "repo@sha256:1", "hello-web-dev", "n")]}
    assert statuses([WEB], actual) == {("web", "ok")}


def test_missing_stopped_and_wrong_image() -> None:
    assert statuses([WEB], {"10.0.0.1": []}) == {("web", "missing")}
    stopped = Running("a" * 64, "exited", "repo@sha256:1", "hello-web-dev", "n")
    assert statuses([WEB], {"10.0.0.1": [stopped]}) == {("web", "stopped")}
    other = Running("a" * 64, "running", "repo@sha256:2", "hello-web-dev", "n")
    assert statuses([WEB], {"10.0.0.1": [other]}) == {("web", "wrong-image")}


def test_only_running_strangers_are_unexpected_retained_versions_are_not() -> None:
    ok = Running("a" * 64, "running", "repo@sha256:1", "hello-web-dev", "n")
    retained = Running("b" * 64, "exited", "repo@sha256:0", "hello-web-dev", "old")
    stray = Running("c" * 64, "running", "repo@sha256:9", "hello-web-dev", "stray")
    findings = compare([WEB], {"10.0.0.1": [ok, retained, stray]})
    assert [(f.status, f.detail.split()[0]) for f in findings] == [
        ("ok", "n"),
        ("unexpected", "stray"),
    ]


def test_ps_output_round_trip() -> None:
    assert "--filter label=fleetform.stack=dev" in ps_script("dev")
    text = (
        f"{'a' * 64} running repo@sha256:1 hello-web-dev-0123 hello-web-dev\nb running i stray \n"
    )
    assert parse_ps(text) == [
        Running("a" * 64, "running", "repo@sha256:1", "hello-web-dev", "hello-web-dev-0123"),
        Running("b", "running", "i", "-", "stray"),
    ]
