"""fleetform's Pulumi program: read the stack settings, plan the deploy file, wire the components."""

from __future__ import annotations

import os

import pulumi

from components.accessory import Accessory, AccessoryArgs, accessory_registry
from components.app_image import AppImage, AppImageArgs
from components.app_role import AppRole, AppRoleArgs
from components.config import KAMAL_DEPLOY_TIMEOUT, KAMAL_DRAIN_TIMEOUT, load_config
from components.config.project import project_root
from components.config.model import secret_source
from components.docker_host import DockerHost, DockerHostArgs, RegistryLogin
from components.errors import DeployConfigError, PlanError
from components.host_key_check import PinnedHost, check_host_keys, hosts_to_scan
from components.interrupt import end_quietly_on_interrupt
from components.hooks import Hooks, HooksArgs, release_pending, run_pre_connect
from components.config.hooks import HooksConfig, find_hooks
from components.outputs import host_summary, placement_table
from components.plan import build_plan
from components.promotion import check_digests_cover_plan, check_no_floating_images
from components.proxy import Proxy, ProxyArgs
from components.proxy_files import proxy_certificate_secrets, read_error_pages
from components.stack_config import (
    check_secrets_passphrase,
    jump_host,
    private_key,
    read_stack_settings,
    read_version_key,
)

# Kamal's default for `retain_containers`.
KAMAL_RETAIN_CONTAINERS = 5


def main() -> None:
    config = pulumi.Config()
    settings = read_stack_settings(config)
    deploy = load_config(settings.deploy_file, settings.destination)
    stack = pulumi.get_stack()
    check_secrets_passphrase(stack, os.environ)
    plan = build_plan(deploy, destination=settings.destination, scope=stack)

    secret_names = sorted({secret_source(e)[1] for p in plan.placements for e in p.env_secret})
    # Accessory files may hold passwords too: their versions need the key as much as secrets do.
    accessory_secrets = any(p.files or p.registry for p in plan.placements)
    certificate_names = proxy_certificate_secrets(plan)
    version_key = read_version_key(
        config,
        uses_secrets=bool(secret_names or plan.registry or accessory_secrets or certificate_names),
    )
    registry = None
    if plan.registry is not None:
        registry = RegistryLogin.from_stack(config, plan.registry)
    secret_env = {name: config.require_secret(name) for name in secret_names}

    hook_args = HooksArgs(
        plan=find_hooks(deploy.hooks or HooksConfig(), settings.deploy_file),
        service=deploy.service,
        destination=settings.destination,
        hosts=[h.host for h in plan.hosts],
        roles=list(plan.role_names),
        digests=settings.app_digests,
        project_root=str(project_root(settings.deploy_file)),
    )
    host_keys = {h.host: settings.host_keys.key_for(h.host, deploy.ssh.port) for h in plan.hosts}
    jump = jump_host(deploy.ssh.proxy, settings.host_keys)
    if not pulumi.runtime.is_dry_run():
        run_pre_connect(hook_args, settings.command_timeout)
        # A preview never contacts hosts; an update first checks that each offers its pinned key.
        jump_pin = PinnedHost(jump.host, jump.port, jump.host_key) if jump else None
        check_host_keys(hosts_to_scan(host_keys, deploy.ssh.port, jump_pin))
    ssh_key = private_key(settings, deploy.ssh.keys, deploy.ssh.key_data)
    hooks = Hooks("hooks", hook_args)
    hosts = {}
    for host in plan.hosts:
        hosts[host.host] = DockerHost(
            host.host,
            DockerHostArgs(
                address=host.host,
                user=deploy.ssh.user,
                port=deploy.ssh.port,
                private_key=ssh_key,
                host_key=host_keys[host.host],
                declared_arch=host.arch,
                declared_by=plan.declared_by(host.host),
                stack=stack,
                version_key=version_key,
                command_timeout=settings.command_timeout,
                registry=registry,
                jump=jump,
                hooks=hooks,
                roles=[*host.roles, *host.accessories],
            ),
        )

    repository = plan.app_repository
    if settings.pinned_images_only:
        check_no_floating_images(plan)
    if settings.promote_from is not None and settings.app_digests is None:
        raise DeployConfigError(
            f"fleetform:appDigests: this stack only deploys promoted digests (promoteFrom "
            f"{settings.promote_from}); run scripts/promote first"
        )
    if settings.app_digests is not None:
        # Pinned digests (promotion, rollback): deploy exactly these bytes and build nothing.
        check_digests_cover_plan(plan, settings.app_digests, "fleetform:appDigests")
        digests = pulumi.Output.from_input(settings.app_digests)
        built: list[pulumi.Resource] = []
    else:
        image = AppImage(
            "app",
            AppImageArgs(
                repository=repository,
                platforms=plan.builds,
                context=plan.builder.context,
                dockerfile=plan.builder.dockerfile,
                build_args=dict(plan.builder.args),
                registry=registry,
                target=plan.builder.target,
                secrets={name: config.require_secret(name) for name in plan.builder.secrets},
                cache=plan.builder.cache,
                cache_repository=plan.builder.cache.repository(
                    plan.image, plan.registry.server if plan.registry else None
                )
                if plan.builder.cache
                else None,
                ssh=plan.builder.ssh,
                after=hooks.pre_build(plan.builder, repository, plan.builds),
            ),
        )
        digests, built = image.digests, [image]
    # Kamal's pre-deploy: after the build and the hosts' setup, before any container changes.
    gate = hooks.pre_deploy(digests, [*built, *(r for h in hosts.values() for r in h.ready)])
    error_pages = (
        read_error_pages(deploy.error_pages_path, project_root(settings.deploy_file))
        if deploy.error_pages_path
        else ()
    )
    # One host's proxy at a time: an image upgrade never takes every host's port 80 down at once.
    proxies: dict[str, Proxy] = {}
    previous: list[pulumi.Resource] = []
    for proxy in plan.proxies:
        proxies[proxy.host] = Proxy(
            f"proxy-{proxy.host}",
            ProxyArgs(
                placement=proxy,
                host=hosts[proxy.host],
                stack=stack,
                depends_on=[*previous, *gate],
                hooks=hooks,
                roles=[p.name for p in plan.placements_for(proxy.host) if p.proxy is not None],
            ),
        )
        previous = proxies[proxy.host].done

    def app_role(role: str, after: list[pulumi.Resource]) -> AppRole:
        return AppRole(
            role,
            AppRoleArgs(
                role=role,
                placements=plan.role_placements(role),
                hosts=hosts,
                repository=repository,
                digests=digests,
                secret_env=secret_env,
                stack=stack,
                version_key=version_key,
                boot_limit=plan.boot_limit(role),
                boot_wait=plan.boot.wait or 0,
                readiness_timeout=settings.readiness_timeout,
                retain=deploy.retain_containers or KAMAL_RETAIN_CONTAINERS,
                repairs=settings.repairs,
                proxies=proxies,
                deploy_timeout=plan.deploy_timeout,
                drain_timeout=plan.drain_timeout,
                readiness_delay=plan.readiness_delay,
                after=after,
                proxy_secrets={name: config.require_secret(name) for name in certificate_names},
                error_pages=error_pages,
                hooks=hooks,
            ),
        )

    # Kamal boots the primary role's first batch before any other role, unless parallel_roles.
    roles: dict[str, AppRole] = {}
    barrier: list[pulumi.Resource] = gate
    if plan.primary_role in plan.role_names:
        roles[plan.primary_role] = app_role(plan.primary_role, gate)
        if not plan.boot.parallel_roles:
            barrier = list(roles[plan.primary_role].first_batch)
    for role in plan.role_names:
        if role not in roles:
            roles[role] = app_role(role, barrier)
    roles = {role: roles[role] for role in plan.role_names}
    accessories = {
        name: Accessory(
            name,
            AccessoryArgs(
                accessory=name,
                placements=plan.accessory_placements(name),
                hosts=hosts,
                secret_env=secret_env,
                stack=stack,
                version_key=version_key,
                readiness_timeout=settings.readiness_timeout,
                repairs=settings.repairs,
                environ=dict(os.environ),
                registry=accessory_registry(config, plan.accessory_placements(name)[0]),
                proxies=proxies,
                deploy_timeout=plan.deploy_timeout or KAMAL_DEPLOY_TIMEOUT,
                drain_timeout=plan.drain_timeout or KAMAL_DRAIN_TIMEOUT,
                after=gate,
            ),
        )
        for name in plan.accessory_names
    }
    hooks.post_deploy(
        [
            *(n for r in roles.values() for n in r.container_names),
            *(n for a in accessories.values() for n in a.container_names),
            *(p.settings_hash for p in proxies.values()),
        ],
        [*(s for p in proxies.values() for s in p.done), *(s for r in roles.values() for s in r.done),
         *accessories.values()],
    )  # fmt: skip

    pulumi.export("appDigests", digests)
    pulumi.export("placements", placement_table(plan))
    pulumi.export("hosts", host_summary(plan, hosts, digests, roles, accessories))
    pulumi.export(
        "proxies",
        pulumi.Output.all(
            **{
                host: {"image": p.image, "platform": proxies[host].platform}
                for host, p in ((p.host, p) for p in plan.proxies)
            }
        ),
    )


end_quietly_on_interrupt()
try:
    main()
except (DeployConfigError, PlanError) as error:
    # A config mistake is the user's to fix, not a crash: show the message, not a traceback.
    raise pulumi.RunError(str(error)) from None
finally:
    release_pending()
