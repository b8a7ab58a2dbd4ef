"""The Ansible provisioning in hw/ansible: syntax, ansible-lint, and a `--check --diff` run
against localhost with a fake root. Ansible lives in the tools venv (.venv/tools, made by
.ci/run from requirements/tools.txt), never in the mirror's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "hw" / "ansible" / "site.yml"
TOOLS = Path(os.environ.get("SMILE_MIRROR_TOOLS", REPO / ".venv" / "tools")) / "bin"
pytestmark = pytest.mark.skipif(not (TOOLS / "ansible-playbook").exists(),
                                reason=f"no ansible in {TOOLS} (.ci/run makes it: python3 -m venv .venv/tools && "
                                       ".venv/tools/bin/pip install --no-deps -r requirements/tools.txt)")


def tool(name: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(cwd / ".ansible-tmp") if cwd != REPO else os.environ.get("TMPDIR", "/tmp")}
    return subprocess.run([str(TOOLS / name), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_syntax_check() -> None:
    done = tool("ansible-playbook", "-i", str(PLAYBOOK.parent / "inventory.example.yml"), str(PLAYBOOK),
                "--syntax-check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_clean() -> None:
    done = tool("ansible-lint", "--offline", "site.yml", "inventory.example.yml", "host_vars", "roles",
                cwd=PLAYBOOK.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_diff_against_localhost_with_a_fake_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    conf = root / "etc/smile-mirror/config.toml"
    conf.parent.mkdir(parents=True)
    # an installed mirror: its default config (a first run's `--check` cannot run the installer)
    conf.write_text(subprocess.run([sys.executable, "-m", "kiosk.cli", "config", "default"], cwd=REPO,
                                   capture_output=True, text=True, check=True).stdout)
    cli = root / "opt/smile-mirror/venv/bin/smile-mirror"
    cli.parent.mkdir(parents=True)
    cli.write_text(f"#!/bin/sh\ncd {REPO} && exec {sys.executable} -m kiosk.cli \"$@\"\n")
    cli.chmod(0o755)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"""all:
  children:
    mirrors:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: {sys.executable}
          smile_mirror_root: {root}
          smile_mirror_repo: {REPO}
          smile_mirror_version: HEAD
          smile_mirror_host_settings:
            mqtt.node: test-mirror
""")
    before = conf.read_text()
    done = tool("ansible-playbook", "-i", str(inventory), str(PLAYBOOK), "--check", "--diff")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed=0" in done.stdout and "The source at the pinned version" in done.stdout
    assert conf.read_text() == before and not (root / "opt/smile-mirror-src").exists(), "--check changed nothing"
