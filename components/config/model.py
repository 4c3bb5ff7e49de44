"""The validated model of a deploy file: frozen dataclasses, one per section, and their types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from components.config.hooks import HooksConfig

Arch = Literal["amd64", "arm64"]
ARCHES: tuple[Arch, ...] = ("amd64", "arm64")
Pairs = tuple[tuple[str, str], ...]
"""(name, value) pairs in file order: env, labels, build args."""
Options = tuple[tuple[str, str | None], ...]
"""Docker long options without `--`, in file order; `None` values are flags."""


@dataclass(frozen=True)
class EnvConfig:
    """Environment for a container: clear values, and secret *names* resolved at deploy time."""

    clear: Pairs = ()
    """(NAME, value) pairs, in file order; values are not secret and may appear in plans."""
    secret: tuple[str, ...] = ()
    """Secret entries: `NAME`, or Kamal's alias `NAME:SECRET` (the variable NAME gets the secret
    SECRET); their values never pass through the config or the plan."""

    def merged_over(self, base: EnvConfig) -> EnvConfig:
        """Kamal's role env merge: clear values override `base` by name; secrets add up, a
        role's entry replacing the global one of the same variable."""
        clear = dict(base.clear)
        clear.update(self.clear)
        secret = {secret_source(entry)[0]: entry for entry in base.secret}
        secret.update((secret_source(entry)[0], entry) for entry in self.secret)
        return EnvConfig(clear=tuple(clear.items()), secret=tuple(secret.values()))


EnvTags = tuple[tuple[str, EnvConfig], ...]
"""Kamal's `env.tags`: (tag, its env) in file order."""
HostTags = tuple[tuple[str, tuple[str, ...]], ...]
"""(host, its tags in file order) for the hosts of a role written as `- HOST: TAG` or `[TAGS]`."""


def tagged_env(base: EnvConfig, tags: tuple[str, ...], env_tags: EnvTags) -> EnvConfig:
    """Kamal's per-host env: `base` (global merged with role), then each tag's env in the host's
    tag order; a tag without an `env.tags` entry adds nothing, as in Kamal."""
    by_tag = dict(env_tags)
    env = base
    for tag in tags:
        if tag in by_tag:
            env = by_tag[tag].merged_over(env)
    return env


def secret_source(entry: str) -> tuple[str, str]:
    """(variable, secret) of an `env.secret` entry: `NAME` is (NAME, NAME)."""
    variable, _, secret = entry.partition(":")
    return variable, secret or variable


@dataclass(frozen=True)
class RegistryConfig:
    """Where the app image is pushed and pulled, and the secret that logs in there."""

    server: str
    """Registry host[:port], e.g. `10.203.0.1:5000`; `docker.io` when the file names none."""
    username: str
    """The user name as written; empty when it is a secret (`username_secret`)."""
    password_secret: str
    """Name of the secret that holds the password (Kamal's `password: [NAME]`)."""
    username_secret: str | None = None
    """Name of the secret that holds the user name (Kamal's `username: [NAME]`), if it is one."""


@dataclass(frozen=True)
class BuildCacheConfig:
    """`builder.cache` of type registry: BuildKit's cache kept as an image in the app registry."""

    image: str | None = None
    """Repository of the cache image; None is Kamal's `<image>-build-cache`."""
    mode: Literal["min", "max"] | None = None
    image_manifest: bool | None = None
    oci_media_types: bool | None = None
    compression: Literal["gzip", "estargz", "zstd"] | None = None
    compression_level: int | None = None
    force_compression: bool | None = None
    ignore_error: bool | None = None

    def repository(self, app_image: str, registry_server: str | None) -> str:
        """Kamal's cache ref: `<registry server>/<cache image>`, without a tag."""
        image = self.image or f"{app_image}-build-cache"
        return f"{registry_server}/{image}" if registry_server else image


@dataclass(frozen=True)
class SshForward:
    """One `--ssh` entry: an id, and the agent sockets or keys behind it (empty: SSH_AUTH_SOCK)."""

    id: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuilderConfig:
    """How the app image is built: for which arches, from which Dockerfile and context."""

    arches: tuple[Arch, ...] = ARCHES
    """Arches the builder may build (Kamal's default is both); the plan builds only those needed."""
    dockerfile: str = "Dockerfile"
    context: str = "."
    args: Pairs = ()
    target: str | None = None
    """The Dockerfile stage to build (`--target`); None builds the last stage."""
    secrets: tuple[str, ...] = ()
    """Names of stack secrets passed to the build as build secrets of the same id."""
    cache: BuildCacheConfig | None = None
    ssh: tuple[SshForward, ...] = ()
    """SSH agent sockets or keys exposed to `RUN --mount=type=ssh` steps."""

    @property
    def single_arch(self) -> Arch | None:
        """The builder's arch when it builds exactly one, which roles without `arch` inherit."""
        return self.arches[0] if len(self.arches) == 1 else None


@dataclass(frozen=True)
class JumpHostConfig:
    """Kamal's `ssh/proxy`: the one host every SSH connection goes through (`[user@]host[:port]`)."""

    host: str
    user: str = "root"
    """Kamal's default for the jump host is `root`, not `ssh/user`."""
    port: int = 22


@dataclass(frozen=True)
class SshConfig:
    """How fleetform reaches every host."""

    user: str = "root"
    port: int = 22
    keys: tuple[str, ...] = ()
    proxy: JumpHostConfig | None = None
    keys_only: bool | None = None
    """Kamal's `keys_only: true`, or None when the file does not say; the deploy behaves as
    `true` either way (false is refused), and day-2 sessions then also refuse an ssh-agent."""
    key_data: tuple[str, ...] = field(default=(), repr=False)
    """Raw private keys from the file (Kamal's `key_data`); never printed, never in the plan."""


@dataclass(frozen=True)
class BootConfig:
    """How many hosts of a role boot at once, and the pause between batches."""

    limit: int | None = None
    """Hosts per batch, when given as a number."""
    limit_percent: int | None = None
    """Hosts per batch as a percentage of a role's hosts (Kamal's `limit: 25%`)."""
    wait: int | None = None
    """Seconds between batches."""
    parallel_roles: bool = False
    """Boot every role at once; otherwise other roles wait for the primary role's first batch."""

    def limit_for(self, host_count: int) -> int | None:
        """The batch size for a role on `host_count` hosts; a percentage rounds down, minimum 1."""
        if self.limit_percent is not None:
            return max(host_count * self.limit_percent // 100, 1)
        return self.limit


KAMAL_PROXY_REPOSITORY = "basecamp/kamal-proxy"
KAMAL_PROXY_VERSION = "v0.9.2"
KAMAL_DEPLOY_TIMEOUT = 30
"""Kamal's `deploy_timeout` default: seconds for a new target to pass the proxy's health check."""
KAMAL_DRAIN_TIMEOUT = 30
"""Kamal's `drain_timeout` default: seconds the proxy lets requests to the old target finish."""
KAMAL_READINESS_DELAY = 7


@dataclass(frozen=True)
class HealthcheckConfig:
    """`proxy.healthcheck`: what kamal-proxy requests before it sends traffic to a new target."""

    path: str = "/up"
    interval: int | None = None
    """Seconds between checks; None leaves kamal-proxy's default (1 s)."""
    timeout: int | None = None
    """Seconds each check may take; None leaves kamal-proxy's default (5 s)."""


@dataclass(frozen=True)
class BufferingConfig:
    """`proxy.buffering`: kamal-proxy buffers request and response bodies (Kamal: both on)."""

    requests: bool = True
    responses: bool = True
    max_request_body: int | None = None
    max_response_body: int | None = None
    memory: int | None = None


@dataclass(frozen=True)
class ProxyConfig:
    """A proxied role's route: Kamal's `proxy` section, merged with the role's own `proxy`."""

    hosts: tuple[str, ...] = ()
    """Host names routed to the role; empty routes every request no other service claims."""
    app_port: int = 80
    healthcheck: HealthcheckConfig = field(default_factory=HealthcheckConfig)
    response_timeout: int | None = None
    buffering: BufferingConfig = field(default_factory=BufferingConfig)
    forward_headers: bool | None = None
    """None leaves kamal-proxy's choice (forward them unless TLS is on)."""
    request_headers: tuple[str, ...] = ("Cache-Control", "Last-Modified", "User-Agent")
    """`logging.request_headers`; the default is Kamal's."""
    response_headers: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    """Kamal's `path_prefix` (comma-separated): only requests below these paths reach the role."""
    strip_path_prefix: bool | None = None
    """None leaves kamal-proxy's default: the prefix is stripped before the request is forwarded."""
    ssl: bool = False
    """HTTPS on kamal-proxy for `hosts`: Let's Encrypt, or the custom certificate below."""
    ssl_redirect: bool | None = None
    """None leaves kamal-proxy's default: with ssl, plain HTTP is redirected to HTTPS."""
    certificate_secret: str | None = None
    """Name of the secret holding the custom certificate (PEM), Kamal's `certificate_pem`."""
    private_key_secret: str | None = None
    """Name of the secret holding the custom certificate's private key (PEM)."""


@dataclass(frozen=True)
class ProxyRunConfig:
    """`proxy.run`: how the one kamal-proxy container per host runs (image, ports, logging)."""

    http_port: int = 80
    https_port: int = 443
    publish: bool = True
    bind_ips: tuple[str, ...] = ()
    options: Options = ()
    registry: str | None = None
    repository: str = KAMAL_PROXY_REPOSITORY
    version: str = KAMAL_PROXY_VERSION
    debug: bool = False
    log_max_size: str = "10m"
    metrics_port: int | None = None
    http3: bool = False
    """kamal-proxy's `--http3`, with UDP published on the HTTPS port."""

    @property
    def image(self) -> str:
        """`basecamp/kamal-proxy:v0.9.2`, or `<registry>/<repository>:<version>`."""
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.repository}:{self.version}"


@dataclass(frozen=True)
class Logging:
    """Kamal's `logging`: Docker's log driver and its options (empty: the engine's default)."""

    driver: str | None = None
    options: Pairs = ()


@dataclass(frozen=True)
class RoleConfig:
    """One app role (`servers.<name>`): the app image on these hosts, with this cmd and env."""

    name: str
    hosts: tuple[str, ...]
    arch: Arch | None
    """The declared arch, else the builder's arch when it builds only one, else None."""
    cmd: str | None = None
    env: EnvConfig = field(default_factory=EnvConfig)
    """The role's env merged over the global env, as Kamal does."""
    options: Options = ()
    """Docker long options without `--`, in file order; `None` values are flags."""
    labels: Pairs = ()
    """Global labels merged with the role's own, the role's winning."""
    ports: tuple[str, ...] = ()
    """Normalised `docker -p` specs, taken from the role's `options.publish`."""
    proxy: ProxyConfig | None = None
    """The role's route through kamal-proxy, or None when the role is not proxied."""
    host_tags: HostTags = ()
    """Tags of the hosts that carry any (`servers` entries written `- HOST: TAG`)."""
    asset_path: AssetPath | None = None
    """The role's `asset_path`, else the top-level one; only ever set on a proxied role."""

    def tags_of(self, host: str) -> tuple[str, ...]:
        return dict(self.host_tags).get(host, ())


@dataclass(frozen=True)
class DirectoryMount:
    """An accessory `directories` entry: a host directory created before the run and mounted."""

    local: str
    """The host directory as written (relative ones live in the accessory's host directory)."""
    remote: str
    """The absolute path inside the container."""
    options: str | None = None
    """Docker mount options (`ro`, `z`, `ro,Z`), comma-separated."""
    mode: str | None = None
    """Octal mode set on the host directory (`0750`), or None to leave it."""
    owner: str | None = None
    """`user`, `user:group` or numeric ids set on the host directory, or None to leave it."""


@dataclass(frozen=True)
class AccessoryFile:
    """An accessory `files` entry: a local file uploaded to the host and mounted in the container.

    Only the path is here; the content (often a password) is read and sent at deploy time.
    """

    local: str
    """The local path as written in the deploy file."""
    source: str
    """The absolute path of the local file (relative ones from the project root)."""
    remote: str
    """The absolute path inside the container."""
    mode: str = "755"
    """Octal mode of the uploaded file; Kamal's default is 755."""
    owner: str | None = None
    options: str | None = None

    @property
    def template(self) -> bool:
        """Kamal renders files whose name ends in `erb` before uploading them."""
        return self.local.endswith("erb")


@dataclass(frozen=True)
class AccessoryConfig:
    """One accessory (`accessories.<name>`): a service with its own image on its own hosts."""

    name: str
    image: str
    """The full image reference as written, e.g. `redis:7.0`."""
    hosts: tuple[str, ...]
    """Resolved from `host`, `hosts`, or the hosts of `roles` (in role order, without repeats)."""
    arch: Arch | None = None
    port: str | None = None
    """The `port` key, normalised (`6379` becomes `6379:6379`)."""
    cmd: str | None = None
    env: EnvConfig = field(default_factory=EnvConfig)
    volumes: tuple[str, ...] = ()
    directories: tuple[DirectoryMount, ...] = ()
    """As written; the plan resolves relative host dirs."""
    options: Options = ()
    labels: Pairs = ()
    roles: tuple[str, ...] = ()
    """The roles the hosts came from, when placed with `roles`."""
    ports: tuple[str, ...] = ()
    """`port` followed by any `options.publish`, all normalised."""
    files: tuple[AccessoryFile, ...] = ()
    service: str | None = None
    """Kamal's `service`: the container name instead of `<service>-<accessory>`."""
    network: str | None = None
    """The Docker network to attach to instead of fleetform's own; it must already exist."""
    registry: RegistryConfig | None = None
    """The registry the image is pulled from, with its own login (the image is prefixed)."""
    proxy: ProxyConfig | None = None
    """The route kamal-proxy serves the accessory on (Kamal's accessory `proxy`), or None."""


@dataclass(frozen=True)
class DeployConfig:
    """A whole validated deploy file (with its destination file merged in, if any)."""

    service: str
    image: str
    """The app image repository without registry or tag, e.g. `fleetform/hello`."""
    roles: tuple[RoleConfig, ...]
    primary_role: str
    builder: BuilderConfig
    registry: RegistryConfig | None
    env: EnvConfig
    accessories: tuple[AccessoryConfig, ...]
    ssh: SshConfig
    boot: BootConfig
    volumes: tuple[str, ...]
    """`docker -v` specs for every app role."""
    labels: Pairs
    """Labels for every app role (already merged into each RoleConfig)."""
    retain_containers: int | None
    destination: str | None = None
    proxy_run: ProxyRunConfig = field(default_factory=ProxyRunConfig)
    """`proxy.run`: the kamal-proxy container on every host of a proxied role."""
    deploy_timeout: int | None = None
    """Kamal's `deploy_timeout` (default 30 s for the proxy); when set, app roles' readiness."""
    drain_timeout: int | None = None
    """Kamal's `drain_timeout` (default 30 s for the proxy); when set, unproxied roles' stop."""
    readiness_delay: int | None = None
    """Kamal's `readiness_delay`: seconds an unproxied role must keep running; None keeps 2."""
    aliases: Pairs = ()
    """Kamal's `aliases`: (name, command line) in file order, for `python -m components NAME`."""
    """The destination whose file was merged in by load_config, if any."""
    env_tags: EnvTags = ()
    """Kamal's `env.tags`: extra env for the app containers on hosts carrying each tag."""
    allow_empty_roles: bool = False
    """Kamal's `allow_empty_roles`: roles without hosts are planned as nothing, not refused."""

    def env_for(self, role: RoleConfig, host: str) -> EnvConfig:
        """The env of `role`'s container on `host`: the role's env, then its host's tags."""
        return tagged_env(role.env, role.tags_of(host), self.env_tags)

    error_pages_path: str | None = None
    """Kamal's `error_pages_path`: the directory whose 4xx.html/5xx.html kamal-proxy serves."""
    secrets_path: str | None = None
    """Kamal's `secrets_path`: where `secrets import` looks by default (`.kamal/secrets`)."""
    hooks: HooksConfig | None = None
    """Kamal's `hooks_path` and `hooks_output`; None when the file sets neither."""

    @property
    def app_repository(self) -> str:
        """What hosts pull the app image from: `<registry server>/<image>`."""
        return f"{self.registry.server}/{self.image}" if self.registry else self.image

    def role(self, name: str) -> RoleConfig:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    def accessory(self, name: str) -> AccessoryConfig:
        for accessory in self.accessories:
            if accessory.name == name:
                return accessory
        raise KeyError(name)


@dataclass(frozen=True)
class AssetPath:
    """Where a proxied role's assets live in its image, bridged across versions by a volume."""

    path: str
    """Absolute path in the container; the image's files there are extracted on each host."""
    options: str | None = None
    """Docker mount options of the bridged volume, e.g. `ro` or `ro,z`."""

    @property
    def spec(self) -> str:
        return self.path if self.options is None else f"{self.path}:{self.options}"
