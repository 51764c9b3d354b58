"""The twofold command against a real daemon, as a person types it."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pyotp

from tests.integration.daemon import Daemon

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
GITHUB = f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub"
TWOFOLD = str(Path(sys.executable).with_name("twofold"))


def twofold(d: Daemon, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TWOFOLD, "--home", str(d.home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def ok_json(d: Daemon, *args: str, stdin: str | None = None) -> dict:
    r = twofold(d, *args, "--json", stdin=stdin)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_add_list_code_edit_trash_restore(daemon: Daemon) -> None:
    r = twofold(daemon, "add", GITHUB)
    assert r.returncode == 0, r.stderr
    assert "GitHub" in r.stdout
    ok_json(daemon, "add", "--issuer", "Example", "--name", "bob", "--secret", SECRET,
            "--digits", "8")  # fmt: skip
    ok_json(daemon, "add", "-", stdin=GITHUB.replace("GitHub", "Stdin") + "\n")

    table = twofold(daemon, "list").stdout.splitlines()
    assert table[0].split() == ["ISSUER", "NAME", "KIND", "ID"]
    assert [line.split()[0] for line in table[1:]] == ["Example", "GitHub", "Stdin"]
    accounts = ok_json(daemon, "list")["accounts"]
    github = next(a for a in accounts if a["issuer"] == "GitHub")

    before = time.time()
    codes = ok_json(daemon, "code", "github")["codes"]
    totp = pyotp.TOTP(SECRET)
    assert [c["code"] for c in codes] == [codes[0]["code"]]
    assert codes[0]["code"] in {totp.at(before), totp.at(time.time())}
    piped = twofold(daemon, "code", "github").stdout  # into a pipe: the bare code
    assert piped.strip() in {totp.at(before), totp.at(time.time())}
    assert piped == piped.strip() + "\n"
    every = ok_json(daemon, "code", "--all")["codes"]
    assert {c["issuer"] for c in every} == {"Example", "GitHub", "Stdin"}

    edited = ok_json(daemon, "edit", github["id"][:8], "--name", "alice", "--note", "work")
    assert (edited["name"], edited["note"]) == ("alice", "work")
    assert ok_json(daemon, "rm", github["id"][:8])["deleted"] is True
    assert [a["id"] for a in ok_json(daemon, "trash")["accounts"]] == [github["id"]]
    assert ok_json(daemon, "restore", github["id"])["deleted"] is False
    assert ok_json(daemon, "conflicts") == {"conflicts": []}
    status = ok_json(daemon, "status")
    assert (status["accounts"], status["trash"], status["members"]) == (3, 0, 1)


def test_hotp_next(daemon: Daemon) -> None:
    ok_json(daemon, "add", "--issuer", "Bank", "--secret", SECRET, "--kind", "hotp",
            "--counter", "3")  # fmt: skip
    first = ok_json(daemon, "next", "bank")
    second = ok_json(daemon, "next", "bank")
    hotp = pyotp.HOTP(SECRET)
    assert (first["code"], second["code"]) == (hotp.at(3), hotp.at(4))


def test_errors_exit_1_with_the_detail(daemon: Daemon) -> None:
    r = twofold(daemon, "add", "otpauth://hotp/x?secret=" + SECRET)
    assert r.returncode == 1
    assert "hotp needs a counter" in r.stderr
    r = twofold(daemon, "add", "otpauth://hotp/x?secret=" + SECRET, "--json")
    assert json.loads(r.stdout)["field"] == "counter"
    r = twofold(daemon, "rm", "ffffffff")
    assert (r.returncode, "no account" in r.stderr) == (1, True)
    assert ok_json(daemon, "list") == {"accounts": []}


def test_without_a_daemon_it_says_how_to_start_one(tmp_path: Path) -> None:
    home = tmp_path / "nobody-home"
    r = subprocess.run([TWOFOLD, "--home", str(home), "list"], capture_output=True, text=True,
                       timeout=30)  # fmt: skip
    assert r.returncode == 3
    assert r.stderr.strip() == (
        f"twofold: no Twofold daemon is running for {home}; "
        f"start one with: twofold daemon --home {home}"
    )


def test_the_readme_sdk_example_works(daemon: Daemon) -> None:
    twofold(daemon, "add", GITHUB)
    readme = Path(__file__).resolve().parents[2] / "README.md"
    block = next(b for b in readme.read_text().split("```python\n")[1:] if "Client(" in b)
    code = block.split("```")[0].replace("Client()", f"Client(home={str(daemon.home)!r})")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "GitHub"


def test_pair_and_join_from_the_command_line(tmp_path: Path) -> None:
    laptop = Daemon(tmp_path / "laptop").start()
    desktop = Daemon(tmp_path / "desktop").start()
    try:
        twofold(laptop, "add", GITHUB)
        pair = subprocess.Popen(
            [TWOFOLD, "--home", str(laptop.home), "pair", "--yes"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        link = ""
        assert pair.stdout is not None
        for line in pair.stdout:
            if "twofold://pair/" in line:
                link = line[line.index("twofold://pair/") :].split()[0].strip("'\"")
                break
        assert link
        joined = twofold(desktop, "join", "--yes", link)
        assert joined.returncode == 0, joined.stderr
        assert "Joined" in joined.stdout
        out, err = pair.communicate(timeout=30)
        assert pair.returncode == 0, err
        assert "Added desktop" in out
        assert ok_json(desktop, "list")["accounts"][0]["issuer"] == "GitHub"
    finally:
        if pair.poll() is None:
            pair.kill()
            pair.communicate()
        laptop.kill()
        desktop.kill()


def test_rename_and_the_picked_peer_port_are_written_to_config_toml(daemon: Daemon) -> None:
    config = daemon.home / "config.toml"
    assert tomllib.loads(config.read_text())["peer_port"] == daemon.peer_port != 0
    r = twofold(daemon, "devices", "rename", "work laptop")
    assert r.returncode == 0, r.stderr
    written = tomllib.loads(config.read_text())
    assert (written["device_name"], written["peer_port"]) == ("work laptop", daemon.peer_port)
    assert written["advertise"] == ["127.0.0.1"], "the rest of the file is kept"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_a_second_daemon_on_the_home_says_which_command_refused(daemon: Daemon) -> None:
    r = subprocess.run([TWOFOLD, "--home", str(daemon.home), "daemon"], capture_output=True,
                       text=True, timeout=30)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("twofold daemon: another Twofold daemon (pid "), (
        r.stderr
    )
