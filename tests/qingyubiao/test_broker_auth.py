"""The broker's users and files from the config (the broker itself: tests/ops/test_broker_acl.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qingyubiao.broker_auth import hash_password, issue_credentials, password_matches, read_passwd
from qingyubiao.config import Config
from tests.conftest import need


def test_our_hashes_and_mosquitto_passwd_s_are_the_same_scheme(tmp_path: Path) -> None:
    tool = need("mosquitto_passwd")
    subprocess.run([tool, "-b", "-c", str(tmp_path / "p"), "gh03-air", "s3cret"], check=True)
    theirs = read_passwd(tmp_path / "p")["gh03-air"]
    assert theirs.startswith("$7$101$") and password_matches(theirs, "s3cret")
    assert not password_matches(theirs, "s3cret ")
    ours = hash_password("s3cret", salt=bytes(12))
    assert ours.split("$")[:3] == theirs.split("$")[:3] and password_matches(ours, "s3cret")


def test_a_device_removed_from_the_config_loses_its_login(village: Config, tmp_path: Path) -> None:
    first = issue_credentials(village, tmp_path)
    lijiahe = village.village[0]
    fewer = village.model_copy(
        update={"village": [lijiahe.model_copy(update={"device": [d for d in lijiahe.device if d.id != "gh24-soil"]})]}
    )
    before = read_passwd(tmp_path / "passwd")
    second = issue_credentials(fewer, tmp_path)
    assert second.removed == ["gh24-soil"] and second.new == []
    after = read_passwd(tmp_path / "passwd")
    assert "gh24-soil" not in after and after == {u: h for u, h in before.items() if u != "gh24-soil"}
    assert "user gh24-soil" not in (tmp_path / "acl").read_text()
    assert len(first.new) == len(before)


def test_two_villages_naming_a_device_alike_is_a_clear_error(village: Config, tmp_path: Path) -> None:
    twin = village.village[0].model_copy(update={"id": "zhangjia"})
    with pytest.raises(ValueError, match="two broker users would be called 'gh01-air'"):
        issue_credentials(village.model_copy(update={"village": [village.village[0], twin]}), tmp_path)
