"""The systemd unit and launchd plist say what we mean, and install/uninstall/status drive the
service manager in the right order.

No test here runs the real `systemctl --user` or `launchctl`: a user service manager needs a
user login session (a user bus), which the test machine lacks, and installing would change the
machine. A fake runner records each command instead and answers as the real tool would. The unit
text is still checked by systemd's own parser (`systemd-analyze --user verify`) when installed.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from twofold.daemon.service_unit import (
    ServiceError,
    ServiceSpec,
    install,
    launchd_plist,
    status,
    systemd_unit,
    uninstall,
)

# Homes systemd could misread: spaces, specifiers (%), variables ($, ${X}), quotes, backslashes.
AWKWARD_HOMES = [
    "/srv/twofold home",
    "/home/ann/My Vault/100% mine",
    "/home/ann/$HOME and ${USER} and $$",
    '/home/ann/it\'s "quoted"',
    "/home/ann/back\\slash\\",
    "/home/ann/ünïcødé  two  spaces",
    "/home/ann/semi;colon #hash",
]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake $HOME, config and data folder, so nothing real is read or written."""
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


class FakeRunner:
    """Records argv of each call and answers from `answer(argv)` -> (exit, stdout, stderr)."""

    def __init__(self, answer: Callable[[list[str]], tuple[int, str, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer or (lambda argv: (0, "", ""))
        self.seen: list[dict[str, object]] = []

    def __call__(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert kwargs["capture_output"] is True
        assert kwargs["text"] is True
        assert kwargs["check"] is False
        self.calls.append(list(argv))
        self.seen.append(kwargs)
        code, out, err = self.answer(list(argv))
        return subprocess.CompletedProcess(argv, code, out, err)


def section(unit: str, name: str) -> dict[str, str]:
    """The key=value lines of one [section] of a unit file (ours never repeats a key)."""
    values: dict[str, str] = {}
    current = None
    for raw in unit.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        if current == name:
            key, _, value = line.partition("=")
            assert key not in values, f"{key} repeated"
            values[key] = value
    return values


C_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "s": " ", "a": "\a"}


def systemd_exec_words(line: str) -> list[str]:
    """ExecStart= as systemd reads it (systemd.syntax(7) quoting and C escapes,
    systemd.unit(5) %% specifier, systemd.service(5) $$ in arguments)."""
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i].isspace():
            i += 1
            continue
        quote = line[i] if line[i] in "\"'" else None
        i += 1 if quote else 0
        word = ""
        while True:
            assert i < len(line) or not quote, f"unbalanced quoting in {line!r}"
            if i >= len(line) or (not quote and line[i].isspace()):
                break
            char = line[i]
            if char == quote:
                i += 1
                assert i >= len(line) or line[i].isspace(), "a quote must end its word"
                break
            if char == "\\":
                word += C_ESCAPES[line[i + 1]]
                i += 2
                continue
            word += char
            i += 1
        words.append(word)
    for n, word in enumerate(words):
        assert "%" not in word.replace("%%", ""), f"unescaped specifier in {word!r}"
        word = word.replace("%%", "%")
        if n > 0:
            assert "$" not in word.replace("$$", ""), f"unescaped variable in {word!r}"
            word = word.replace("$$", "$")
        words[n] = word
    return words


# --- names ---------------------------------------------------------------------------------------


def test_the_default_home_gets_the_plain_names(isolated_env: Path) -> None:
    spec = ServiceSpec(isolated_env / ".local" / "share" / "twofold")
    assert spec.unit_name == "twofold.service"
    assert spec.label == "dev.twofold.daemon"


def test_other_homes_get_a_name_hashed_from_their_path(tmp_path: Path) -> None:
    home = tmp_path / "fleet" / "a"
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:8]
    spec = ServiceSpec(home)
    assert spec.unit_name == f"twofold-{digest}.service"
    assert spec.label == f"dev.twofold.daemon-{digest}"
    assert ServiceSpec(tmp_path / "fleet" / "b").unit_name != spec.unit_name


def test_the_home_is_made_absolute_before_naming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert ServiceSpec(Path("h")) == ServiceSpec(tmp_path / "x" / ".." / "h")
    assert ServiceSpec(Path("~/v")).home == isolated_env / "v"


def test_the_interpreter_defaults_to_this_one_unresolved() -> None:
    # A venv's bin/python is a symlink; resolving it would run outside the venv.
    assert ServiceSpec(Path("/h")).python == Path(os.path.abspath(sys.executable))


@pytest.mark.parametrize("home", ["/home/a\nb", "/home/a\tb", "/home/a\x7fb"])
def test_homes_with_control_characters_are_refused(home: str) -> None:
    with pytest.raises(ServiceError, match="control characters"):
        ServiceSpec(Path(home))


# --- the systemd unit ----------------------------------------------------------------------------


@pytest.mark.parametrize("home", AWKWARD_HOMES)
def test_exec_start_runs_the_daemon_on_exactly_this_home(home: str) -> None:
    spec = ServiceSpec(Path(home), python=Path("/opt/py env/100%/bin/python3"))
    exec_start = section(systemd_unit(spec), "Service")["ExecStart"]
    assert systemd_exec_words(exec_start) == [
        "/opt/py env/100%/bin/python3",
        "-m",
        "twofold.daemon",
        "run",
        "--home",
        home,
    ]


def test_the_unit_restarts_on_failure_and_starts_at_login() -> None:
    unit = systemd_unit(ServiceSpec(Path("/srv/twofold home")))
    service = section(unit, "Service")
    assert service["Restart"] == "on-failure"
    assert service["RestartSec"] == "2"
    assert service["Environment"] == "PYTHONUNBUFFERED=1"
    assert service["UMask"] == "0077"
    assert service["NoNewPrivileges"] == "yes"
    assert section(unit, "Install") == {"WantedBy": "default.target"}
    assert "/srv/twofold home" in section(unit, "Unit")["Description"]


def test_the_unit_raises_the_open_file_limit() -> None:
    # systemd's default soft limit (1024) let a flood of 1,100 connections stop the local API
    service = section(systemd_unit(ServiceSpec(Path("/h"))), "Service")
    soft, hard = (int(n) for n in service["LimitNOFILE"].split(":"))
    assert soft >= 8192
    assert hard >= soft


def test_the_agent_raises_the_open_file_limit() -> None:
    job = plistlib.loads(launchd_plist(ServiceSpec(Path("/h"))).encode())
    assert job["SoftResourceLimits"] == {"NumberOfFiles": 8192}
    assert "HardResourceLimits" not in job  # launchd's own hard limit stays


def test_the_unit_avoids_sandboxing_that_needs_user_namespaces() -> None:
    # In a user manager these need PrivateUsers= (unprivileged user namespaces); where those
    # are off the daemon would fail to start, and it must be able to write its home.
    service = section(systemd_unit(ServiceSpec(Path("/h"))), "Service")
    for key in ("PrivateTmp", "ProtectSystem", "ProtectHome", "PrivateUsers", "ReadWritePaths"):
        assert key not in service


@pytest.mark.parametrize("char", ['"', "'", "\\", "$"])
def test_an_interpreter_path_systemd_cannot_run_is_refused(char: str) -> None:
    spec = ServiceSpec(Path("/h"), python=Path(f"/opt/we{char}ird/python"))
    with pytest.raises(ServiceError, match="systemd cannot run a program"):
        systemd_unit(spec)


# --- systemd's own parser ------------------------------------------------------------------------

ANALYZE = shutil.which("systemd-analyze")


def analyze_verify(tmp_path: Path, name: str, text: str) -> tuple[int, list[str]]:
    """Run `systemd-analyze --user verify` offline: exit code and the lines about our unit.

    No running systemd is needed: a private XDG_RUNTIME_DIR lets it set up an offline user
    manager, and a fake HOME keeps the real user's units out. verify exits 0 even for
    settings it ignores ("Failed to parse ..., ignoring"), so any line naming the unit counts.
    """
    units = tmp_path / "units"
    units.mkdir(exist_ok=True)
    (units / name).write_text(text, encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    fake_home = tmp_path / "analyze-home"
    fake_home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(fake_home),
        "XDG_RUNTIME_DIR": str(runtime),
        "SYSTEMD_LOG_LEVEL": "notice",
    }
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "--user", "verify", "--man=no", str(units / name)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    lines = (result.stdout + result.stderr).splitlines()
    return result.returncode, [line for line in lines if name in line]


@pytest.fixture
def verify(tmp_path: Path) -> Callable[[str, str], tuple[int, list[str]]]:
    """systemd-analyze verify, skipped where it is missing or cannot run offline here."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze is not installed: the unit is not checked by systemd")
    probe = "[Service]\nExecStart=/bin/sh -c true\n"
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    if analyze_verify(probe_dir, "probe.service", probe) != (0, []):
        pytest.skip("systemd-analyze --user verify cannot run offline on this machine")
    return lambda name, text: analyze_verify(tmp_path, name, text)


@pytest.mark.parametrize("home", ["/srv/twofold", *AWKWARD_HOMES])
def test_systemd_accepts_the_unit(
    home: str, verify: Callable[[str, str], tuple[int, list[str]]]
) -> None:
    spec = ServiceSpec(Path(home))
    assert verify(spec.unit_name, systemd_unit(spec)) == (0, [])


def test_systemd_finds_an_interpreter_at_an_awkward_path(
    tmp_path: Path, verify: Callable[[str, str], tuple[int, list[str]]]
) -> None:
    # verify checks that ExecStart's program exists: so this proves systemd unquotes the path
    # (spaces, %) to exactly the file we meant.
    venv_bin = tmp_path / "my venv 100%" / "bin dir"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python 3").symlink_to(sys.executable)
    spec = ServiceSpec(tmp_path / "home", python=venv_bin / "python 3")
    assert verify(spec.unit_name, systemd_unit(spec)) == (0, [])


@pytest.mark.parametrize(
    "exec_start",
    [
        f'"{sys.executable}" -m twofold.daemon run --home "/srv/a b',  # unbalanced quote
        f'"{sys.executable}" -m twofold.daemon run --home "/srv/a\\qb"',  # unknown escape
        '"/nonexistent/python" -m twofold.daemon run',  # no such program
    ],
)
def test_the_verify_check_does_catch_mistakes(
    exec_start: str, verify: Callable[[str, str], tuple[int, list[str]]]
) -> None:
    code, complaints = verify("broken.service", f"[Service]\nExecStart={exec_start}\n")
    assert code != 0 or complaints


# --- the launchd plist ---------------------------------------------------------------------------


@pytest.mark.parametrize("home", AWKWARD_HOMES)
def test_the_plist_parses_back_with_the_right_keys(home: str) -> None:
    spec = ServiceSpec(Path(home), python=Path("/opt/py env/bin/python3"))
    job = plistlib.loads(launchd_plist(spec).encode())
    assert job["Label"] == spec.label
    assert job["ProgramArguments"] == [
        "/opt/py env/bin/python3",
        "-m",
        "twofold.daemon",
        "run",
        "--home",
        home,
    ]
    assert job["RunAtLoad"] is True
    assert job["KeepAlive"] == {"SuccessfulExit": False}
    assert job["StandardErrorPath"] == f"{home}/daemon.log"
    assert job["ProcessType"] == "Background"
    assert job["Umask"] == 0o077 == 63
    assert job["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1"}


# --- install, uninstall, status on Linux ---------------------------------------------------------


@pytest.fixture
def linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")


@pytest.fixture
def spec(tmp_path: Path) -> ServiceSpec:
    return ServiceSpec(tmp_path / "twofold home")


@pytest.mark.usefixtures("linux")
def test_install_writes_the_unit_then_reloads_and_enables(
    spec: ServiceSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    unit_file = config / "systemd" / "user" / spec.unit_name
    seen_file: list[bool] = []

    def answer(argv: list[str]) -> tuple[int, str, str]:
        seen_file.append(unit_file.exists())
        return 0, "", ""

    runner = FakeRunner(answer)
    message = install(spec, runner=runner)
    assert runner.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", spec.unit_name],
    ]
    assert seen_file == [True, True]  # written before systemd is told
    assert unit_file.read_text() == systemd_unit(spec)
    assert str(unit_file) in message
    assert f"journalctl --user -u {spec.unit_name}" in message


@pytest.mark.usefixtures("linux")
def test_without_xdg_config_home_the_unit_goes_to_dot_config(
    spec: ServiceSpec, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/is/ignored")  # as the XDG spec says
    install(spec, runner=FakeRunner())
    assert (isolated_env / ".config" / "systemd" / "user" / spec.unit_name).is_file()


@pytest.mark.usefixtures("linux")
def test_reinstalling_a_changed_unit_restarts_the_daemon(spec: ServiceSpec) -> None:
    install(spec, runner=FakeRunner())
    same = FakeRunner()
    install(spec, runner=same)
    assert ["systemctl", "--user", "restart", spec.unit_name] not in same.calls
    moved = FakeRunner()
    message = install(ServiceSpec(spec.home, python=Path("/opt/new/python3")), runner=moved)
    assert moved.calls[-1] == ["systemctl", "--user", "restart", spec.unit_name]
    assert "restarted" in message


@pytest.mark.usefixtures("linux")
def test_uninstall_disables_then_deletes_then_reloads(
    spec: ServiceSpec, isolated_env: Path
) -> None:
    install(spec, runner=FakeRunner())
    unit_file = isolated_env / ".config" / "systemd" / "user" / spec.unit_name
    seen_file: list[bool] = []

    def answer(argv: list[str]) -> tuple[int, str, str]:
        seen_file.append(unit_file.exists())
        return 0, "", ""

    runner = FakeRunner(answer)
    message = uninstall(spec, runner=runner)
    assert runner.calls == [
        ["systemctl", "--user", "disable", "--now", spec.unit_name],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert seen_file == [True, False]
    assert not unit_file.exists()
    assert str(unit_file) in message
    assert spec.home.parent.exists()


@pytest.mark.usefixtures("linux")
@pytest.mark.parametrize("systemctl", ["missing", "not systemd"])
def test_uninstall_without_systemd_removes_the_unit_file_and_says_so(
    spec: ServiceSpec, isolated_env: Path, systemctl: str
) -> None:
    install(spec, runner=FakeRunner())
    unit_file = isolated_env / ".config" / "systemd" / "user" / spec.unit_name

    def answer(argv: list[str]) -> tuple[int, str, str]:
        if systemctl == "missing":
            raise FileNotFoundError(argv[0])
        return 1, "", "System has not been booted with systemd as init system (PID 1).\n"

    runner = FakeRunner(answer)
    message = uninstall(spec, runner=runner)
    assert not unit_file.exists()
    assert message.startswith("systemctl was not found")
    assert str(unit_file) in message
    assert runner.calls == [["systemctl", "--user", "disable", "--now", spec.unit_name]]


@pytest.mark.usefixtures("linux")
def test_uninstall_and_status_of_a_missing_unit_run_nothing(spec: ServiceSpec) -> None:
    runner = FakeRunner()
    assert "not installed" in uninstall(spec, runner=runner)
    assert "not installed" in status(spec, runner=runner)
    assert runner.calls == []


@pytest.mark.usefixtures("linux")
@pytest.mark.parametrize("code", [0, 3])  # 3: the unit is stopped, and status still reports it
def test_status_shows_what_systemctl_says(spec: ServiceSpec, code: int) -> None:
    install(spec, runner=FakeRunner())
    said = f"● {spec.unit_name} - Twofold authenticator daemon\n   Active: inactive (dead)\n"
    runner = FakeRunner(lambda argv: (code, said, ""))
    message = status(spec, runner=runner)
    assert runner.calls == [["systemctl", "--user", "status", spec.unit_name, "--no-pager"]]
    assert said.strip() in message
    assert f"journalctl --user -u {spec.unit_name}" in message


@pytest.mark.usefixtures("linux")
def test_a_failing_systemctl_becomes_a_service_error_with_its_stderr(spec: ServiceSpec) -> None:
    def answer(argv: list[str]) -> tuple[int, str, str]:
        if "enable" in argv:
            return 1, "", "Failed to enable unit: Unit file twofold.service does not exist.\n"
        return 0, "", ""

    with pytest.raises(ServiceError, match="enable --now") as caught:
        install(spec, runner=FakeRunner(answer))
    assert "Unit file twofold.service does not exist" in str(caught.value)
    assert "exit 1" in str(caught.value)


@pytest.mark.usefixtures("linux")
def test_a_failed_disable_keeps_the_unit_file(spec: ServiceSpec, isolated_env: Path) -> None:
    install(spec, runner=FakeRunner())
    with pytest.raises(ServiceError, match="Access denied"):
        uninstall(spec, runner=FakeRunner(lambda argv: (1, "", "Access denied")))
    assert (isolated_env / ".config" / "systemd" / "user" / spec.unit_name).exists()


@pytest.mark.usefixtures("linux")
@pytest.mark.parametrize(
    "stderr",
    [
        "Failed to connect to bus: No medium found",
        "Failed to connect to bus: $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined",
    ],
)
@pytest.mark.parametrize("action", [install, status])
def test_no_user_session_bus_says_to_enable_linger(
    spec: ServiceSpec, stderr: str, action: Callable[..., str]
) -> None:
    install(spec, runner=FakeRunner())  # so that status has a unit to ask about
    with pytest.raises(ServiceError, match="loginctl enable-linger") as caught:
        action(spec, runner=FakeRunner(lambda argv: (1, "", stderr)))
    assert "systemctl --user is unavailable" in str(caught.value)
    assert stderr in str(caught.value)


@pytest.mark.usefixtures("linux")
def test_a_linux_without_systemd_is_told_so(spec: ServiceSpec) -> None:
    said = "System has not been booted with systemd as init system (PID 1). Can't operate."
    with pytest.raises(ServiceError, match="does not run systemd"):
        install(spec, runner=FakeRunner(lambda argv: (1, "", said)))

    def missing(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(argv[0])

    with pytest.raises(ServiceError, match="systemctl not found"):
        install(spec, runner=missing)


@pytest.mark.usefixtures("linux")
def test_a_hung_systemctl_is_reported(spec: ServiceSpec) -> None:
    def hang(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert isinstance(kwargs["timeout"], float)
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    with pytest.raises(ServiceError, match="did not finish"):
        install(spec, runner=hang)


# --- install, uninstall, status on macOS ---------------------------------------------------------

NOT_LOADED = (113, "", 'Bad request.\nCould not find service "x" in domain for user gui: 501\n')


@pytest.fixture
def macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")


def plist_path(home: Path, spec: ServiceSpec) -> Path:
    return home / "Library" / "LaunchAgents" / f"{spec.label}.plist"


@pytest.mark.usefixtures("macos")
def test_macos_install_writes_the_agent_and_bootstraps_it(
    spec: ServiceSpec, isolated_env: Path
) -> None:
    runner = FakeRunner(lambda argv: NOT_LOADED if argv[1] == "print" else (0, "", ""))
    message = install(spec, runner=runner)
    domain = f"gui/{os.getuid()}"
    path = plist_path(isolated_env, spec)
    assert runner.calls == [
        ["launchctl", "print", f"{domain}/{spec.label}"],
        ["launchctl", "bootstrap", domain, str(path)],
    ]
    assert plistlib.loads(path.read_bytes())["Label"] == spec.label
    assert spec.home.is_dir()  # launchd opens daemon.log there and will not create the folder
    assert str(path) in message
    assert str(spec.home / "daemon.log") in message


@pytest.mark.usefixtures("macos")
def test_macos_reinstall_boots_out_the_loaded_agent_first(spec: ServiceSpec) -> None:
    runner = FakeRunner()
    install(spec, runner=runner)
    assert [argv[1] for argv in runner.calls] == ["print", "bootout", "bootstrap"]
    assert runner.calls[1] == ["launchctl", "bootout", f"gui/{os.getuid()}/{spec.label}"]


@pytest.mark.usefixtures("macos")
def test_macos_uninstall_boots_out_and_deletes(spec: ServiceSpec, isolated_env: Path) -> None:
    install(spec, runner=FakeRunner(lambda argv: NOT_LOADED if argv[1] == "print" else (0, "", "")))
    runner = FakeRunner()
    message = uninstall(spec, runner=runner)
    assert [argv[1] for argv in runner.calls] == ["print", "bootout"]
    assert not plist_path(isolated_env, spec).exists()
    assert "removed" in message


@pytest.mark.usefixtures("macos")
def test_macos_status(spec: ServiceSpec) -> None:
    assert "not installed" in status(spec, runner=FakeRunner())
    install(spec, runner=FakeRunner())
    loaded = "gui/501/dev.twofold.daemon = {\n\tstate = running\n}"
    runner = FakeRunner(lambda argv: (0, loaded, ""))
    assert loaded in status(spec, runner=runner)
    assert runner.calls == [["launchctl", "print", f"gui/{os.getuid()}/{spec.label}"]]
    assert "not loaded" in status(spec, runner=FakeRunner(lambda argv: NOT_LOADED))


@pytest.mark.usefixtures("macos")
def test_macos_bootstrap_failure_carries_stderr(spec: ServiceSpec) -> None:
    def answer(argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "print":
            return NOT_LOADED
        return 125, "", "Bootstrap failed: 125: Domain does not support specified action"

    with pytest.raises(ServiceError, match="Domain does not support") as caught:
        install(spec, runner=FakeRunner(answer))
    assert "GUI login session" in str(caught.value)


# --- elsewhere -----------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["win32", "cygwin"])
@pytest.mark.parametrize("action", [install, uninstall, status])
def test_windows_is_not_supported_and_says_so(
    spec: ServiceSpec, platform: str, action: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    runner = FakeRunner()
    with pytest.raises(ServiceError, match="Windows"):
        action(spec, runner=runner)
    assert runner.calls == []


def test_other_platforms_are_told_what_is_supported(
    spec: ServiceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "freebsd14")
    with pytest.raises(ServiceError, match=r"Linux \(systemd\) and macOS \(launchd\)"):
        install(spec, runner=FakeRunner())
