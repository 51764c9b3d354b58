"""Run the daemon as a per-user background service: a systemd user unit or a launchd agent.

One home, one service. The unit (Linux) and the label (macOS) are named after
the home so several homes can each have their own service:

- the default home (the platform's user data folder, as ``home.resolve_home``
  picks it with no ``--home`` and no ``$TWOFOLD_HOME``) gets ``twofold.service``
  and ``dev.twofold.daemon``;
- any other home gets ``twofold-<h>.service`` and ``dev.twofold.daemon-<h>``,
  where ``<h>`` is the first 8 hex digits of SHA-256 over the home's absolute
  path (UTF-8). The name depends on the path only, never on the environment,
  so install, status and uninstall agree from any shell.

The service always passes ``--home`` explicitly and runs the interpreter it was
installed with (a virtualenv's ``bin/python`` is kept as is, not resolved, so
the venv stays active). Reinstalling rewrites the unit and restarts the daemon
when the unit changed. Commands run through an injectable ``runner`` so tests
never touch the real service manager.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .errors import DaemonError

Runner = Callable[..., subprocess.CompletedProcess[str]]
"""Called like subprocess.run(argv, capture_output=True, text=True, check=False, timeout=...)."""

UNIT_PREFIX = "twofold"
LABEL_PREFIX = "dev.twofold.daemon"
COMMAND_TIMEOUT_S = 60.0
"""A service manager that does not answer within this long is reported, not waited on."""
OPEN_FILES_SOFT = 8192
OPEN_FILES_HARD = 65536
"""The open-file limit the service starts with. A service manager's default soft limit
(1024 for systemd, 256 for launchd) is what a flood of the peer port exhausted until the
local API stopped answering; the daemon also raises its soft limit towards the hard one
at start, and keeps its peer-port caps well below it (daemon/limits.py)."""

_BUS_UNAVAILABLE = (
    "failed to connect to bus",
    "dbus_session_bus_address",
    "xdg_runtime_dir",
    "no medium found",
)
_NOT_SYSTEMD = ("not been booted with systemd", "can't operate")
_SYSTEMD_BAD_EXEC_CHARS = frozenset("\"'\\$")
"""systemd refuses quotes and backslashes in a program path, and would expand `$` in argv[0]."""


class ServiceError(DaemonError):
    """Installing, removing or querying the service failed; the message says why and what next."""


class NoSystemd(ServiceError):
    """systemctl is not installed, or this system does not run systemd."""


def _default_home() -> Path:
    """The home a bare `twofold` uses, which owns the unsuffixed service name."""
    return Path(os.path.abspath(platformdirs.user_data_dir("twofold", appauthor=False)))


def _check_path(what: str, path: Path) -> None:
    """Refuse paths no unit or plist can carry, before anything is written."""
    text = str(path)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ServiceError(f"the {what} path {text!r} contains control characters; use another")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(f"the {what} path {text!r} is not valid UTF-8; use another") from None


@dataclass(frozen=True)
class ServiceSpec:
    """Which home the service runs and with which interpreter; paths are made absolute."""

    home: Path
    python: Path = field(default_factory=lambda: Path(sys.executable))

    def __post_init__(self) -> None:
        """Normalise once, so the name hash and the command line see the same path."""
        if not str(self.python) or str(self.python) == ".":
            raise ServiceError("no Python interpreter path (sys.executable is empty); pass python=")
        object.__setattr__(self, "home", Path(os.path.abspath(Path(self.home).expanduser())))
        # abspath, not resolve(): resolving a venv's bin/python would leave the venv.
        object.__setattr__(self, "python", Path(os.path.abspath(Path(self.python).expanduser())))
        _check_path("home", self.home)
        _check_path("Python", self.python)

    @property
    def suffix(self) -> str:
        """'' for the default home, else '-' and 8 hex digits of SHA-256 of the home path."""
        if self.home == _default_home():
            return ""
        return "-" + hashlib.sha256(str(self.home).encode("utf-8")).hexdigest()[:8]

    @property
    def unit_name(self) -> str:
        """The systemd user unit, e.g. twofold.service or twofold-1a2b3c4d.service."""
        return f"{UNIT_PREFIX}{self.suffix}.service"

    @property
    def label(self) -> str:
        """The launchd label, e.g. dev.twofold.daemon or dev.twofold.daemon-1a2b3c4d."""
        return f"{LABEL_PREFIX}{self.suffix}"

    @property
    def log_path(self) -> Path:
        """Where launchd sends the daemon's output (systemd sends it to the journal)."""
        return self.home / "daemon.log"

    @property
    def argv(self) -> list[str]:
        """The daemon's command line, exactly as the service manager runs it."""
        return [str(self.python), "-m", "twofold.daemon", "run", "--home", str(self.home)]


# --- unit and plist text -------------------------------------------------------------------------


def _systemd_quote(arg: str) -> str:
    """Quote one ExecStart= argument per systemd.syntax(7) and systemd.service(5)."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    # Specifiers are expanded when the unit loads, variables ($$, ${X}) when it runs.
    escaped = escaped.replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _systemd_executable(path: Path) -> str:
    """Quote the program path; systemd allows fewer characters here than in arguments."""
    text = str(path)
    bad = sorted(set(text) & _SYSTEMD_BAD_EXEC_CHARS)
    if bad:
        raise ServiceError(
            f"systemd cannot run a program whose path contains {' '.join(bad)}: {text}; "
            "install Twofold in a virtualenv at a plainer path"
        )
    return '"' + text.replace("%", "%%") + '"'


def systemd_unit(spec: ServiceSpec) -> str:
    """The user unit text, so the daemon starts at login and comes back after a crash."""
    program = _systemd_executable(spec.python)
    home = _systemd_quote(str(spec.home))
    exec_start = f"{program} -m twofold.daemon run --home {home}"
    description = f"Twofold authenticator daemon ({spec.home})".replace("%", "%%")
    return f"""\
# Written by `python -m twofold.daemon service install`: reinstall rather than edit.
[Unit]
Description={description}
# Give up after 5 failed starts in a minute instead of looping on a broken home.
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=exec
ExecStart={exec_start}
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
Environment=PYTHONUNBUFFERED=1
UMask=0077
# Room for many peer connections under a flood with the local API still answering.
# Beyond what the user manager may grant, systemd sets the closest it can.
LimitNOFILE={OPEN_FILES_SOFT}:{OPEN_FILES_HARD}
# Hardening that needs no namespaces, so it holds in a user manager without
# PrivateUsers=. PrivateTmp=, ProtectSystem= and the like are left out: in a user
# unit they need unprivileged user namespaces, and where those are disabled the
# daemon would not start at all.
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes

[Install]
WantedBy=default.target
"""


def launchd_plist(spec: ServiceSpec) -> str:
    """The LaunchAgent plist, so the daemon starts at login and comes back after a crash."""
    job: dict[str, object] = {
        "Label": spec.label,
        "ProgramArguments": spec.argv,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Background",
        "Umask": 0o077,
        # launchd's default soft limit is 256; the hard one is left as launchd has it.
        "SoftResourceLimits": {"NumberOfFiles": OPEN_FILES_SOFT},
        "StandardOutPath": str(spec.log_path),
        "StandardErrorPath": str(spec.log_path),
    }
    return plistlib.dumps(job, fmt=plistlib.FMT_XML, sort_keys=False).decode("utf-8")


# --- where files go ------------------------------------------------------------------------------


def systemd_unit_path(spec: ServiceSpec) -> Path:
    """$XDG_CONFIG_HOME/systemd/user/<unit>, which the user manager reads (~/.config if unset)."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "systemd" / "user" / spec.unit_name


def launchd_plist_path(spec: ServiceSpec) -> Path:
    """~/Library/LaunchAgents/<label>.plist, which launchd loads at login."""
    return Path.home() / "Library" / "LaunchAgents" / f"{spec.label}.plist"


# --- running the service manager -----------------------------------------------------------------


def _platform(spec: ServiceSpec) -> str:
    """Which service manager applies; read at call time so tests can set sys.platform."""
    platform: str = sys.platform
    run = f"python -m twofold.daemon run --home {shlex.quote(str(spec.home))}"
    if platform.startswith("linux"):
        return "linux"
    if platform == "darwin":
        return "darwin"
    if platform in ("win32", "cygwin", "msys"):
        raise ServiceError(
            "Twofold cannot install itself as a Windows service yet. Start the daemon at logon "
            f"with Task Scheduler instead: {run}"
        )
    raise ServiceError(
        f"background services are supported on Linux (systemd) and macOS (launchd), not on "
        f"{platform}; run `{run}` under your init system"
    )


def _run(runner: Runner, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command, turning 'not installed' and hangs into ServiceError."""
    try:
        return runner(
            list(argv), capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT_S
        )
    except FileNotFoundError:
        if argv[0] == "systemctl":
            raise NoSystemd(
                "systemctl not found: this system does not use systemd. Run "
                "`python -m twofold.daemon run --home <HOME>` under your init system instead"
            ) from None
        raise ServiceError(f"{argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"`{shlex.join(argv)}` did not finish within {COMMAND_TIMEOUT_S:.0f}s"
        ) from None


def _failure(argv: Sequence[str], result: subprocess.CompletedProcess[str], hint: str = "") -> str:
    """Say which command failed, how, and what it printed."""
    said = (result.stderr or "").strip() or (result.stdout or "").strip() or "(no output)"
    text = f"`{shlex.join(argv)}` failed (exit {result.returncode}): {said}"
    return f"{text}. {hint}" if hint else text


def _systemctl(runner: Runner, *args: str, context: str = "") -> subprocess.CompletedProcess[str]:
    """Run systemctl --user and raise ServiceError unless it succeeded."""
    argv = ["systemctl", "--user", *args]
    result = _run(runner, argv)
    _raise_if_no_user_manager(argv, result, context)
    if result.returncode != 0:
        raise ServiceError(_failure(argv, result, context))
    return result


def _raise_if_no_user_manager(
    argv: Sequence[str], result: subprocess.CompletedProcess[str], context: str
) -> None:
    """Explain the two ways `systemctl --user` cannot work: no user manager, or no systemd."""
    if result.returncode == 0:
        return
    said = (result.stderr or "").lower()
    if any(marker in said for marker in _NOT_SYSTEMD):
        raise NoSystemd(
            _failure(argv, result)
            + ". This system does not run systemd; run `python -m twofold.daemon run --home "
            "<HOME>` under your init system instead."
        )
    if any(marker in said for marker in _BUS_UNAVAILABLE):
        raise ServiceError(
            _failure(argv, result)
            + ". systemctl --user is unavailable: there is no user service manager (no user "
            "session bus) in this session. Log in through a desktop or SSH session, or run "
            "`loginctl enable-linger $USER` once so your user manager runs without a login, "
            "then run this again." + (f" {context}" if context else "")
        )


def _write_atomically(path: Path, text: str) -> None:
    """Replace a file whole, so a crash leaves the old unit or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _gui_domain() -> str:
    """launchd's domain for the logged-in user's agents."""
    return f"gui/{os.getuid()}"


_LAUNCHD_HINT = (
    "launchctl needs your GUI login session (gui/<uid>): run this from the Mac's desktop"
)


def install(spec: ServiceSpec, *, runner: Runner = subprocess.run) -> str:
    """Start the service now and at every login; say where it was written and where logs go."""
    if _platform(spec) == "linux":
        return _install_systemd(spec, runner)
    return _install_launchd(spec, runner)


def uninstall(spec: ServiceSpec, *, runner: Runner = subprocess.run) -> str:
    """Stop the service and remove it, so it no longer starts at login."""
    if _platform(spec) == "linux":
        return _uninstall_systemd(spec, runner)
    return _uninstall_launchd(spec, runner)


def status(spec: ServiceSpec, *, runner: Runner = subprocess.run) -> str:
    """The service manager's own account of the service, or that it is not installed."""
    if _platform(spec) == "linux":
        return _status_systemd(spec, runner)
    return _status_launchd(spec, runner)


def _install_systemd(spec: ServiceSpec, runner: Runner) -> str:
    path = systemd_unit_path(spec)
    text = systemd_unit(spec)
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    _write_atomically(path, text)
    context = f"The unit file {path} is written."
    _systemctl(runner, "daemon-reload", context=context)
    _systemctl(runner, "enable", "--now", spec.unit_name, context=context)
    changed = previous is not None and previous != text
    if changed:
        # enable --now leaves a running daemon on the old command line.
        _systemctl(runner, "restart", spec.unit_name, context=context)
    return (
        f"{'Updated and restarted' if changed else 'Installed and started'} {spec.unit_name} "
        f"for home {spec.home}.\n"
        f"Unit file: {path}\n"
        f"It starts at each login; to keep it running while you are logged out: "
        f"loginctl enable-linger $USER\n"
        f"Logs: journalctl --user -u {spec.unit_name}"
    )


def _uninstall_systemd(spec: ServiceSpec, runner: Runner) -> str:
    path = systemd_unit_path(spec)
    if not path.exists():
        return f"{spec.unit_name} is not installed (no {path}); nothing to do."
    try:
        _systemctl(runner, "disable", "--now", spec.unit_name)
    except NoSystemd:  # no systemd to stop it or to start it again: the file is all there is
        path.unlink()
        return (
            f"systemctl was not found (this system does not run systemd), so nothing was "
            f"stopped; removed the unit file {path}. The home {spec.home} is kept."
        )
    path.unlink()
    _systemctl(runner, "daemon-reload")
    return f"Stopped and removed {spec.unit_name} (deleted {path}). The home {spec.home} is kept."


def _status_systemd(spec: ServiceSpec, runner: Runner) -> str:
    path = systemd_unit_path(spec)
    if not path.exists():
        return f"{spec.unit_name} is not installed (no {path})."
    argv = ["systemctl", "--user", "status", spec.unit_name, "--no-pager"]
    result = _run(runner, argv)
    _raise_if_no_user_manager(argv, result, "")
    # status exits 3 for a stopped unit and still prints it: only silence is a failure.
    if not (result.stdout or "").strip():
        raise ServiceError(_failure(argv, result))
    return (
        f"{result.stdout.rstrip()}\n\nUnit file: {path}\n"
        f"Logs: journalctl --user -u {spec.unit_name}"
    )


def _launchd_loaded(spec: ServiceSpec, runner: Runner) -> subprocess.CompletedProcess[str]:
    return _run(runner, ["launchctl", "print", f"{_gui_domain()}/{spec.label}"])


def _launchctl(runner: Runner, *args: str) -> None:
    argv = ["launchctl", *args]
    result = _run(runner, argv)
    if result.returncode != 0:
        raise ServiceError(_failure(argv, result, _LAUNCHD_HINT))


def _install_launchd(spec: ServiceSpec, runner: Runner) -> str:
    path = launchd_plist_path(spec)
    # launchd opens the log file itself and does not create its folder.
    spec.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_atomically(path, launchd_plist(spec))
    reloaded = _launchd_loaded(spec, runner).returncode == 0
    if reloaded:
        # bootstrap refuses a label that is already loaded; bootout first to apply the new plist.
        _launchctl(runner, "bootout", f"{_gui_domain()}/{spec.label}")
    _launchctl(runner, "bootstrap", _gui_domain(), str(path))
    return (
        f"{'Reloaded' if reloaded else 'Installed and started'} {spec.label} "
        f"for home {spec.home}.\n"
        f"Agent plist: {path}\n"
        f"It starts at each login.\n"
        f"Logs: {spec.log_path}"
    )


def _uninstall_launchd(spec: ServiceSpec, runner: Runner) -> str:
    path = launchd_plist_path(spec)
    if not path.exists():
        return f"{spec.label} is not installed (no {path}); nothing to do."
    if _launchd_loaded(spec, runner).returncode == 0:
        _launchctl(runner, "bootout", f"{_gui_domain()}/{spec.label}")
    path.unlink()
    return f"Stopped and removed {spec.label} (deleted {path}). The home {spec.home} is kept."


def _status_launchd(spec: ServiceSpec, runner: Runner) -> str:
    path = launchd_plist_path(spec)
    if not path.exists():
        return f"{spec.label} is not installed (no {path})."
    result = _launchd_loaded(spec, runner)
    if result.returncode != 0:
        said = (result.stderr or result.stdout or "").strip()
        return (
            f"{spec.label} is installed ({path}) but not loaded in launchd: {said}\n"
            f"Run `python -m twofold.daemon service install --home {shlex.quote(str(spec.home))}` "
            f"to load it. Logs: {spec.log_path}"
        )
    return f"{result.stdout.rstrip()}\n\nAgent plist: {path}\nLogs: {spec.log_path}"
