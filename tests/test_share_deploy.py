"""The installer's share drop-in: with booth.share = true the kiosk's sandbox opens exactly the
share port and nothing more; `systemd-analyze security` of the unit with it stays <= 1.5."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.test_deploy import CONSOLE_UNIT, INSTALL, directives, offline_security_supported, unit_with_stub_exec


def install_step(tmp_path: Path, config: str, step: str = "write_share_dropin") -> tuple[Path, str]:
    root = tmp_path / "root"
    (root / "etc/smile-mirror").mkdir(parents=True, exist_ok=True)
    (root / "etc/smile-mirror/config.toml").write_text(config)
    done = subprocess.run(["bash", "-c", f'source "{INSTALL}"; ROOT="{root}"; DRY_RUN=0; {step}'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return root / "etc/systemd/system/smile-mirror.service.d/share.conf", done.stdout


def test_sharing_off_writes_no_drop_in(tmp_path: Path) -> None:
    dropin, _ = install_step(tmp_path, "[booth]\nshare = false\nshare_port = 8080\n")
    assert not dropin.exists()
    dropin, _ = install_step(tmp_path, "[run]\nmode = \"photobooth\"\n")
    assert not dropin.exists()


def test_sharing_on_opens_exactly_its_port_and_off_again_removes_it(tmp_path: Path) -> None:
    dropin, out = install_step(tmp_path, "[booth]\nshare = true\nshare_port = 8765\n")
    d = directives(dropin)
    assert d["PrivateNetwork"] == ["no"] and d["SocketBindAllow"] == ["tcp:8765"] and set(d["SocketBindDeny"]) == {"any"}
    assert d["IPAddressDeny"] == ["any"] and "0.0.0.0/0" not in " ".join(d["IPAddressAllow"])
    assert "AF_INET" in d["RestrictAddressFamilies"][0] and "8765" in out
    dropin, _ = install_step(tmp_path, "[booth]\nshare = false\n")
    assert not dropin.exists(), "turning sharing off closes the port again at the next install"


@pytest.mark.skipif(not offline_security_supported(),
                    reason="needs systemd-analyze >= 250 for `security --offline` (Debian package: systemd)")
def test_the_unit_with_the_share_drop_in_stays_at_most_1_5(tmp_path: Path) -> None:
    dropin, _ = install_step(tmp_path, "[booth]\nshare = true\nshare_port = 8080\n")
    unit = unit_with_stub_exec(CONSOLE_UNIT, tmp_path)
    # the drop-in's [Service] lines after the unit's, as systemd merges them
    merged = unit.read_text().replace("[Install]", dropin.read_text().split("[Service]", 1)[1] + "\n[Install]")
    unit.write_text(merged)
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert "PrivateNetwork=no" in merged
    assert float(found.group(1)) <= 1.5, done.stdout
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "share" not in verify.stderr.lower() and "Unknown key" not in verify.stderr, verify.stderr


def test_booth_buttons_open_the_gpio_chips_and_nothing_without_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/group").write_text("gpio:x:997:\n")
    gpio = root / "etc/systemd/system/smile-mirror.service.d/gpio.conf"
    _, out = install_step(tmp_path, "[booth]\nprint = \"ask\"\nprinter = \"p\"\nprint_pin = 17\n", "write_gpio_dropin")
    d = directives(gpio)
    assert d["DeviceAllow"] == ["char-gpiochip rw"] and d["SupplementaryGroups"] == ["gpio"]
    assert d["Environment"] == ["LG_WD=%S/smile-mirror"], "lgpio's pipes need a writable folder"
    assert "GPIO17" in out
    install_step(tmp_path, "[booth]\nphoto_pin = 0\n", "write_gpio_dropin")
    assert not gpio.exists(), "no buttons, no GPIO access"


@pytest.mark.skipif(not offline_security_supported(),
                    reason="needs systemd-analyze >= 250 for `security --offline` (Debian package: systemd)")
def test_the_unit_with_every_booth_drop_in_stays_at_most_1_5(tmp_path: Path) -> None:
    config = "[booth]\nshare = true\nshare_port = 8080\nprint_pin = 17\nphoto_pin = 27\n"
    share, _ = install_step(tmp_path, config)
    gpio = share.with_name("gpio.conf")
    install_step(tmp_path, config, "write_gpio_dropin")
    unit = unit_with_stub_exec(CONSOLE_UNIT, tmp_path)
    extra = "".join(f.read_text().split("[Service]", 1)[1] for f in (share, gpio))
    unit.write_text(unit.read_text().replace("[Install]", extra + "\n[Install]"))
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 1.5, done.stdout
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "Unknown key" not in verify.stderr and "gpio" not in verify.stderr.lower(), verify.stderr


def merged(dropins: list[Path]) -> dict[str, list[str]]:
    """Drop-ins folded in systemd's order (by file name), as it folds list settings: each line
    adds its items, an empty assignment clears the list, a scalar's last line wins."""
    out: dict[str, list[str]] = {}
    for dropin in sorted(dropins, key=lambda p: p.name):
        for key, values in directives(dropin).items():
            for value in values:
                out[key] = [] if value == "" else out.get(key, []) + value.split()
    return out


def test_sharing_and_the_exporters_together_keep_both_ports_and_every_peer(tmp_path: Path) -> None:
    """share.conf and network.conf side by side (a booth with sharing that also reports to a
    venue's Prometheus and MQTT): neither clears what the other opens."""
    from tests.test_deploy import assert_networked_unit_at_most_1_5, write_dropin

    config = ('[booth]\nshare = true\nshare_port = 8080\n[metrics]\nenabled = true\nport = 9100\n'
              '[mqtt]\nenabled = true\nhost = "192.168.1.10"\n')
    done = write_dropin(tmp_path, config)
    assert done.returncode == 0, done.stdout + done.stderr
    share, _ = install_step(tmp_path, config)
    network = share.with_name("network.conf")
    assert network.exists() and share.exists()
    d = merged([share, network])
    assert {"tcp:9100", "tcp:8080"} <= set(d["SocketBindAllow"]) and set(d["SocketBindDeny"]) == {"any"}
    assert {"192.168.1.10/32", "127.0.0.0/8", "192.168.0.0/16"} <= set(d["IPAddressAllow"])
    assert "0.0.0.0/0" not in d["IPAddressAllow"] and set(d["IPAddressDeny"]) == {"any"}
    assert d["PrivateNetwork"][-1] == "no"
    if offline_security_supported():
        assert_networked_unit_at_most_1_5(tmp_path / "root")
