"""twofold import, export, backup and restore FILE against the stand-in daemon.

The stand-in does not read formats (the integration tests run the real
readers); here the CLI's own part is checked: where it reads the file, when it
asks for a password, what it prints, and how it writes secrets to disk.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from twofold.clients.cli import prompts

from .cli_runner import run
from .test_cli_pairing import Tty
from .test_sdk_fakedaemon import BACKUP_PASSWORD, RECOVERY_KEY, FakeDaemon

URIS = "otpauth://totp/GitHub:alice?secret=JBSWY3DP\nnonsense\notpauth://totp/Bank:bob?secret=JB\n"


def sent(fake: FakeDaemon, path: str) -> list[Any]:
    return [s.body for s in fake.seen if s.path == "/api/v1" + path]


def test_import_reads_the_file_and_reports_each_entry(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.add("Bank", "bob")
    export = tmp_path / "export.txt"
    export.write_text(URIS)
    code, out, err = run(fake, capsys, "import", str(export))
    assert code == 1, "an entry failed, so the status says so"
    assert err == ""
    assert out.splitlines() == [
        "otpauth: added 1, skipped 1, failed 1",
        "  added     GitHub: alice  (line 1)",
        "  skipped   Bank: bob  (line 3): present",
        "  failed    line 2: not a URI",
    ]
    assert sent(fake, "/import") == [{"content": base64.b64encode(URIS.encode()).decode()}]


def test_a_dry_run_says_so_and_sends_the_flag(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = "otpauth://totp/GitHub:alice?secret=JBSWY3DP"
    code, out, _ = run(fake, capsys, "import", uri, "--dry-run", "--format", "otpauth")
    assert code == 0
    assert (
        out.splitlines()[0]
        == "otpauth: would add 1, skipped 0, failed 0 (dry run: nothing was changed)"
    )
    assert sent(fake, "/import") == [{"text": uri, "format": "otpauth", "dry_run": True}]
    assert fake.accounts == {}


def test_import_from_stdin_and_json_output(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(fake, capsys, "import", "-", "--json", stdin=URIS.splitlines()[0])
    assert code == 0
    report = json.loads(out)
    assert [a["name"] for a in report["added"]] == ["alice"]
    assert report["failed"] == []


def test_a_sealed_file_asks_for_its_password_at_a_terminal(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    export = tmp_path / "sealed.txt"
    export.write_text("sealed\notpauth://totp/GitHub:alice?secret=JBSWY3DP\n")
    asked: list[str] = []
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: asked.append(q) or BACKUP_PASSWORD)
    code, out, _ = run(fake, capsys, "import", str(export), stdin=Tty())
    assert code == 0
    assert asked == ["password of the file (not echoed): "]
    assert [b.get("password") for b in sent(fake, "/import")] == [None, BACKUP_PASSWORD]
    assert "added 1" in out


def test_without_a_terminal_a_sealed_file_says_to_pipe_the_password(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "sealed.txt"
    export.write_text("sealed\n")
    code, _, err = run(fake, capsys, "import", str(export))
    assert code == 1
    assert "--password-stdin" in err


def test_a_wrong_password_is_said_and_nothing_more(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "sealed.txt"
    export.write_text("sealed\notpauth://totp/GitHub:alice?secret=JBSWY3DP\n")
    code, out, err = run(fake, capsys, "import", str(export), "--password-stdin", stdin="nope\n")
    assert (code, out, err) == (1, "", "twofold: the password is wrong\n")
    assert fake.accounts == {}


@pytest.mark.parametrize(
    ("argv", "stdin", "complaint"),
    [
        (["import", "missing.json"], "", "no such file: missing.json"),
        (["import", "-"], "", "expected a file on standard input, got nothing"),
        (["import", "-", "--password-stdin"], "x", "stdin can carry the file or its password"),
    ],
)
def test_import_refuses_what_it_cannot_read(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str,
    complaint: str,
) -> None:  # fmt: skip
    code, _, err = run(fake, capsys, *argv, stdin=stdin)
    assert code == 1
    assert complaint in err
    assert sent(fake, "/import") == []


def test_export_asks_first_and_writes_a_private_file(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.add("GitHub", "alice")
    out_file = tmp_path / "export.txt"
    code, _, err = run(fake, capsys, "export", "--out", str(out_file), stdin=Tty("n\n"))
    assert code == 1
    assert "nothing was written" in err
    assert not out_file.exists()
    assert sent(fake, "/export") == []
    code, out, _ = run(fake, capsys, "export", "--out", str(out_file), stdin=Tty("y\n"))
    assert code == 0
    assert "wrote 1 accounts" in out
    assert out_file.read_text() == "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP\n"
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    code, _, err = run(fake, capsys, "export", "--out", str(out_file), "--yes")
    assert (code, "exists" in err) == (1, True)


def test_export_without_a_terminal_needs_yes(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add("GitHub", "alice")
    code, out, _ = run(fake, capsys, "export")
    assert code == 1
    assert "--yes" in out
    code, out, _ = run(fake, capsys, "export", "--yes", "--format", "aegis")
    assert code == 0
    assert sent(fake, "/export") == [{"format": "aegis"}]
    assert out.startswith("otpauth://totp/GitHub:alice")


def test_export_as_qr_writes_one_private_png_per_account(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.add("GitHub", "alice")
    fake.add("Bank", "bob")
    folder = tmp_path / "codes"
    code, _, _ = run(fake, capsys, "export", "--format", "qr", "--out", str(folder), "--yes")
    assert code == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["001-GitHub-alice.png", "002-Bank-bob.png"]
    for path in folder.iterdir():
        assert path.read_bytes().startswith(b"\x89PNG")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sent(fake, "/export") == [{"format": "otpauth"}]


def test_export_as_qr_to_the_terminal(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    fake.add("GitHub", "alice")
    code, out, _ = run(fake, capsys, "export", "--format", "qr", "--yes")
    assert code == 0
    assert out.splitlines()[0] == "GitHub:alice"
    assert "█" in out


def test_backup_asks_twice_and_writes_a_private_file(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    typed = iter([BACKUP_PASSWORD, BACKUP_PASSWORD])
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: next(typed))
    target = tmp_path / "vault.tfbackup"
    code, out, _ = run(fake, capsys, "backup", "--to", str(target), stdin=Tty())
    assert code == 0
    assert sent(fake, "/backup") == [{"passphrase": BACKUP_PASSWORD}]
    assert target.read_bytes() == b"twofold-backup\x00sealed"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"twofold restore {target}" in out


def test_backup_passphrases_that_differ_write_nothing(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    typed = iter([BACKUP_PASSWORD, BACKUP_PASSWORD + "x"])
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: next(typed))
    target = tmp_path / "vault.tfbackup"
    code, _, err = run(fake, capsys, "backup", "--to", str(target), stdin=Tty())
    assert code == 1
    assert "differ" in err
    assert not target.exists()
    assert sent(fake, "/backup") == []


def test_a_recovery_key_backup_prints_the_key_once(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "vault.tfbackup"
    code, out, _ = run(fake, capsys, "backup", "--to", str(target), "--recovery-key")
    assert code == 0
    assert f"  Recovery key:  {RECOVERY_KEY}" in out.splitlines()
    code, _, err = run(fake, capsys, "backup", "--to", str(target), "--recovery-key")
    assert code == 1
    assert "exists" in err


def test_restore_takes_a_file_or_an_account_id(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = fake.add("Old", "carol", deleted=True)
    code, out, _ = run(fake, capsys, "restore", old["id"][:6])
    assert (code, out.startswith("restored Old: carol")) == (0, True)
    backup = tmp_path / "vault.tfbackup"
    backup.write_text("sealed\notpauth://totp/GitHub:alice?secret=JBSWY3DP\n")
    code, out, _ = run(
        fake, capsys, "restore", str(backup), "--password-stdin", stdin=BACKUP_PASSWORD + "\n"
    )
    assert code == 0
    assert sent(fake, "/import")[-1]["format"] == "twofold-backup"
    assert sent(fake, "/import")[-1]["password"] == BACKUP_PASSWORD
    code, _, err = run(fake, capsys, "restore", str(tmp_path / "gone.tfbackup"))
    assert (code, "no backup file" in err) == (1, True)


def test_a_restore_report_names_each_entry_once_in_one_pair_of_parentheses(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"kind": "totp", "trashed": False, "id": "ab" * 16}
    report = {"format": "twofold-backup", "dry_run": False, "warnings": [], "failed": [],
              "added": [entry | {"entry": "entry 1 (onlyname)", "issuer": "", "name": "onlyname"},
                        entry | {"entry": "entry 2 (Old: x)", "issuer": "New", "name": "x"}],
              "skipped": [entry | {"entry": "entry 3 (GitHub: alice)", "issuer": "GitHub",
                                   "name": "alice", "reason": "present"}]}  # fmt: skip
    fake.canned[("POST", "/api/v1/import")] = web.json_response(report)
    code, out, _ = run(fake, capsys, "import", "otpauth://totp/x?secret=JBSWY3DP")
    assert code == 0
    assert out.splitlines()[1:] == [
        "  added     onlyname  (entry 1)",
        "  added     New: x  (entry 2: Old: x)",
        "  skipped   GitHub: alice  (entry 3): present",
    ]


def test_a_short_backup_passphrase_is_refused_before_it_is_asked_again(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    asked: list[str] = []
    monkeypatch.setattr(prompts.getpass, "getpass", lambda q: asked.append(q) or "too short")
    target = tmp_path / "vault.tfbackup"
    code, _, err = run(fake, capsys, "backup", "--to", str(target), stdin=Tty())
    assert (code, err) == (1, "twofold: a backup passphrase needs at least 10 characters\n")
    assert asked == ["backup passphrase (not echoed): "]
    assert sent(fake, "/backup") == []


def test_ctrl_d_at_the_passphrase_prompt_is_a_clean_error(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def ctrl_d(question: str) -> str:
        raise EOFError

    monkeypatch.setattr(prompts.getpass, "getpass", ctrl_d)
    target = tmp_path / "vault.tfbackup"
    code, out, err = run(fake, capsys, "backup", "--to", str(target), stdin=Tty())
    assert (code, out, err) == (1, "", "twofold: no backup passphrase was typed\n")
    assert not target.exists()
