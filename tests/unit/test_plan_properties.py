"""Property tests over random fleets: what holds for every plan, whatever the deploy file."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from components.config import ARCH_ALIASES, Arch, DeployConfig, parse_config
from components.errors import FleetformError
from components.plan import Plan, build_plan

ARCHES: list[Arch] = ["amd64", "arm64"]
SPELLINGS: dict[Arch, list[str]] = {
    arch: [alias for alias, target in ARCH_ALIASES.items() if target == arch] for arch in ARCHES
}
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def spelling(draw: st.DrawFn, arch: Arch) -> str:
    return draw(st.sampled_from(SPELLINGS[arch]))


@st.composite
def consistent_fleets(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Arch]]:
    """A deploy file whose declarations all agree with each host's real arch, plus those arches."""
    hosts = [f"10.0.{index // 200}.{index % 200 + 1}" for index in range(draw(st.integers(1, 14)))]
    real_arch = {host: draw(st.sampled_from(ARCHES)) for host in hosts}
    builder: list[Arch] = draw(st.sampled_from([["amd64"], ["arm64"], ["amd64", "arm64"]]))

    servers: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 5))):
        explicit = draw(st.booleans())
        arch: Arch | None = builder[0] if len(builder) == 1 else None
        if explicit:
            arch = draw(st.sampled_from(builder))
        candidates = [host for host in hosts if arch is None or real_arch[host] == arch]
        if not candidates:
            continue
        role_hosts = draw(st.lists(st.sampled_from(candidates), min_size=1, unique=True))
        role: dict[str, Any] = {"hosts": role_hosts}
        if explicit and arch is not None:
            role["arch"] = spelling(draw, arch)
        if draw(st.booleans()):
            role["cmd"] = f"bin/role{index}"
        servers[f"role{index}"] = role
    assume(servers)

    accessories: dict[str, Any] = {}
    for index in range(draw(st.integers(0, 4))):
        accessory: dict[str, Any] = {"image": f"registry.example.com/accessory{index}:1"}
        declared: Arch | None = draw(st.sampled_from([None, *ARCHES]))
        candidates = [host for host in hosts if declared is None or real_arch[host] == declared]
        if not candidates:
            continue
        how = draw(st.sampled_from(["host", "hosts", "roles"]))
        if how == "roles" and declared is None:
            accessory["roles"] = draw(
                st.lists(st.sampled_from(sorted(servers)), min_size=1, unique=True)
            )
        elif how == "host":
            accessory["host"] = draw(st.sampled_from(candidates))
        else:
            accessory["hosts"] = draw(
                st.lists(st.sampled_from(candidates), min_size=1, unique=True)
            )
        if declared is not None:
            accessory["arch"] = spelling(draw, declared)
        accessories[f"accessory{index}"] = accessory

    raw = {
        "service": "fleet",
        "image": "acme/app",
        "registry": {"server": "10.0.0.250:5000", "username": "u", "password": ["P"]},
        "builder": {"arch": [spelling(draw, arch) for arch in builder]},
        "servers": servers,
        "primary_role": next(iter(servers)),
        "accessories": accessories,
    }
    return raw, real_arch


@st.composite
def filtered_plans(draw: st.DrawFn) -> tuple[DeployConfig, Plan, dict[str, Arch]]:
    raw, real_arch = draw(consistent_fleets())
    config = parse_config(raw)
    roles = None
    if draw(st.booleans()):
        roles = draw(st.lists(st.sampled_from([r.name for r in config.roles]), unique=True))
    hosts = None
    if draw(st.booleans()):
        known = sorted(
            {h for r in config.roles for h in r.hosts}
            | {h for a in config.accessories for h in a.hosts}
        )
        hosts = draw(st.lists(st.sampled_from(known), unique=True))
    destination = draw(st.sampled_from([None, "staging"]))
    return config, build_plan(config, destination=destination, roles=roles, hosts=hosts), real_arch


def check_the_app_image_only_reaches_hosts_through_an_app_role(
    case: tuple[DeployConfig, Plan, dict[str, Arch]],
) -> None:
    config, plan, _ = case
    role_hosts = {role.name: set(role.hosts) for role in config.roles}
    for placement in plan.placements:
        if placement.image == plan.app_repository:
            assert placement.kind == "role"
        if placement.kind == "role":
            assert placement.image == plan.app_repository
            assert placement.host in role_hosts[placement.name]
    for host in plan.hosts:
        if not host.roles:
            assert all(p.image != plan.app_repository for p in plan.placements_for(host.host))


def check_every_placement_platform_agrees_with_its_hosts_declared_arch(
    case: tuple[DeployConfig, Plan, dict[str, Arch]],
) -> None:
    _, plan, real_arch = case
    arch_of = {host.host: host.arch for host in plan.hosts}
    for host in plan.hosts:
        assert host.arch in (None, real_arch[host.host])
    for placement in plan.placements:
        assert placement.arch == arch_of[placement.host]
        expected = None if placement.arch is None else f"linux/{placement.arch}"
        assert placement.platform == expected


def check_every_build_is_used_by_a_role_and_every_role_platform_is_built(
    case: tuple[DeployConfig, Plan, dict[str, Arch]],
) -> None:
    config, plan, _ = case
    role_placements = [p for p in plan.placements if p.kind == "role"]
    for platform in plan.builds:
        assert any(p.platform in (platform, None) for p in role_placements), platform
        assert platform.removeprefix("linux/") in config.builder.arches
    for placement in role_placements:
        assert placement.platform is None or placement.platform in plan.builds
    assert list(plan.builds) == sorted(set(plan.builds))


def check_hosts_list_exactly_the_hosts_with_placements(
    case: tuple[DeployConfig, Plan, dict[str, Arch]],
) -> None:
    _, plan, _ = case
    assert [h.host for h in plan.hosts] == list(dict.fromkeys(p.host for p in plan.placements))
    for host in plan.hosts:
        on_host = plan.placements_for(host.host)
        assert host.roles == tuple(p.name for p in on_host if p.kind == "role")
        assert host.accessories == tuple(p.name for p in on_host if p.kind == "accessory")
        assert len({p.container for p in on_host}) == len(on_host)


@PROPERTY_SETTINGS
@given(filtered_plans())
def test_plan_invariants_over_random_fleets(
    case: tuple[DeployConfig, Plan, dict[str, Arch]],
) -> None:
    # One generated fleet feeds every check: generation is most of the cost.
    check_the_app_image_only_reaches_hosts_through_an_app_role(case)
    check_every_placement_platform_agrees_with_its_hosts_declared_arch(case)
    check_every_build_is_used_by_a_role_and_every_role_platform_is_built(case)
    check_hosts_list_exactly_the_hosts_with_placements(case)


ANY_ARCH = st.sampled_from([None, "amd64", "arm64", "x86_64", "aarch64", "linux/arm64", "sparc"])
SOME_HOSTS = st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3", "bad host"]), max_size=3)


@st.composite
def arbitrary_fleets(draw: st.DrawFn) -> dict[str, Any]:
    """Deploy files that are often wrong: conflicting arches, unknown arches, odd host lists."""

    def with_arch(entry: dict[str, Any]) -> dict[str, Any]:
        arch = draw(ANY_ARCH)
        return entry if arch is None else {**entry, "arch": arch}

    servers = {
        f"r{index}": with_arch({"hosts": draw(SOME_HOSTS)})
        for index in range(draw(st.integers(0, 3)))
    }
    accessories = {
        f"a{index}": with_arch({"image": "redis:7", "hosts": draw(SOME_HOSTS)})
        for index in range(draw(st.integers(0, 3)))
    }
    builder_arch = draw(st.one_of(ANY_ARCH, st.lists(ANY_ARCH, max_size=3)))
    raw: dict[str, Any] = {"service": "s", "image": "a/b", "servers": servers}
    if servers:
        raw["primary_role"] = next(iter(servers))
    if accessories:
        raw["accessories"] = accessories
    if builder_arch is not None:
        raw["builder"] = {"arch": builder_arch}
    return raw


@settings(max_examples=200, deadline=None)
@given(arbitrary_fleets())
def test_any_fleet_plans_or_fails_with_a_fleetform_error(raw: dict[str, Any]) -> None:
    try:
        plan = build_plan(parse_config(raw))
    except FleetformError as error:
        message = str(error)
        assert ": " in message and "\n" not in message
        return
    arch_of = {host.host: host.arch for host in plan.hosts}
    assert all(p.arch == arch_of[p.host] for p in plan.placements)
