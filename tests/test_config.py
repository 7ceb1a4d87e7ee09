"""Configuration loading: typed, strict, secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialerd.cli import main
from dialerd.config import Config, Secret, load_config, parse_config
from dialerd.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "dialerd.example.toml"


def test_the_shipped_example_is_valid_and_every_key_is_commented(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The example configuration loads, and each key line is preceded by a comment."""
    (tmp_path / "ami-pbx1").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = load_config(EXAMPLE)
    assert config.ami.servers[0].secret.load("x").reveal() == "s3cret"
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if "=" in stripped and not stripped.startswith("#"):
            assert lines[i - 1].strip().startswith("#"), f"line {i + 1} has no comment: {line}"


def test_an_empty_file_gives_the_defaults() -> None:
    """Every section has defaults, so an empty file is a complete configuration."""
    assert parse_config("") == Config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store]\npathx = 1", "store.pathx: unknown key"),
        ("colour = 1", "colour: unknown key"),
        ("[store]\nbusy_timeout_ms = -1", "store.busy_timeout_ms: Expected `int` >= 0"),
        ("[metrics]\nlisten_port = 70000", "metrics.listen_port: Expected `int` <= 65535"),
        ("[log]\nlevel = 'loud'", "log.level: Invalid enum value 'loud'"),
        ("[store\n", "not valid TOML"),
        ('[[ami.servers]]\nname = "a"', "ami.servers[0]: Object missing required field"),
    ],
)
def test_bad_values_name_their_key(text: str, message: str) -> None:
    """An unknown key or a bad value is an error that names the key."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="x.toml")
    assert str(info.value).startswith("x.toml: ")
    assert message in str(info.value)


def test_duplicate_server_names_are_refused() -> None:
    """Two AMI servers with one name could not be told apart in logs and metrics."""
    text = '[[ami.servers]]\nname="a"\nsecret={value="x"}\n' * 2
    with pytest.raises(ConfigError, match="duplicate name 'a'"):
        parse_config(text)


def test_secrets_never_show_in_reprs(tmp_path: Path) -> None:
    """A secret read from a file is usable but absent from every repr and str."""
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text("hunter2\n")
    config = parse_config(
        f'[[ami.servers]]\nname = "pbx"\nsecret = {{ file = "{secret_file}" }}\n'
        '[mqtt]\npassword = { value = "mqttpass" }\n'
    )
    assert "hunter2" not in repr(config)
    assert "mqttpass" not in repr(config)
    secret = config.ami.servers[0].secret.load("k")
    assert secret.reveal() == "hunter2"
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert secret == Secret("hunter2")


def test_a_missing_secret_file_is_a_config_error(tmp_path: Path) -> None:
    """A secret that cannot be read stops the start with the key named."""
    with pytest.raises(ConfigError, match=r"ami\.servers\[0\]\.secret: cannot read"):
        parse_config(f'[[ami.servers]]\nname = "p"\nsecret = {{ file = "{tmp_path / "none"}" }}\n')


def test_a_credential_needs_the_systemd_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A credential name without $CREDENTIALS_DIRECTORY is explained, not a crash."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY is not set"):
        parse_config('[[ami.servers]]\nname = "p"\nsecret = { credential = "ami" }\n')


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``dialerd check-config`` says ok for a good file and names the key of a bad one."""
    good = tmp_path / "good.toml"
    good.write_text("[store]\npath = 'x.db'\n")
    assert main(["check-config", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\npath = 3\n")
    assert main(["check-config", str(bad)]) == 1
    assert "store.path: Expected `str`" in capsys.readouterr().err
