"""The first-run contract: `make` bootstraps uv inside the project's venv when uv is not on
PATH, on a distribution Python that refuses `pip install` into itself (PEP 668).

Runs the real Makefile target in a copy of the project with a PATH that hides uv. On Debian the
interpreter is /usr/bin/python3.11, which carries the EXTERNALLY-MANAGED marker, so a bootstrap
that installed into the system Python would fail here exactly as it did for a new user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _path_without_uv() -> str:
    dirs = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d) / "uv").exists() and ".venv" not in Path(d).parts
    ]
    return os.pathsep.join(dirs)


def _system_python() -> str | None:
    for candidate in ("/usr/bin/python3.11", shutil.which("python3.11", path=_path_without_uv())):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_bootstraps_uv_into_the_venv_when_uv_is_absent(tmp_path):
    python = _system_python()
    if python is None:
        pytest.skip("no python3.11 outside the venv")
    project = tmp_path / "fresh clone"
    project.mkdir()
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "README.md"):
        shutil.copy(REPO / name, project / name)
    shutil.copytree(REPO / "sop_pipeline", project / "sop_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    # Only the system python's folder and the basic tools: python3.11 resolves to `python`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(python)
    path = os.pathsep.join([str(bin_dir), _path_without_uv()])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env["PATH"] = path
    assert shutil.which("uv", path=path) is None
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
        ).stdout.strip()
    )
    uv_before = sorted(purelib.glob("uv-*.dist-info"))
    proc = subprocess.run(
        ["make", ".venv/.installed"], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "installing it into .venv/.uv" in proc.stdout
    assert (project / ".venv" / ".uv" / "bin" / "uv").exists()
    check = subprocess.run(
        [
            str(project / ".venv" / "bin" / "python"),
            "-c",
            "import sys, sop_pipeline, dagster; print(sys.version_info[:2])",
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "(3, 11)" in check.stdout, check.stderr
    assert sorted(purelib.glob("uv-*.dist-info")) == uv_before  # the system interpreter was left alone


def _requirements() -> list:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(r) for r in names]


def _pins() -> dict[str, list[tuple[str, str]]]:
    """constraints.txt as {normalised name: [(version, marker), ...]} (one entry per platform fork)."""
    from packaging.utils import canonicalize_name

    pins: dict[str, list[tuple[str, str]]] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, marker = line.partition(";")
        name, _, version = spec.strip().partition("==")
        assert version, f"constraints.txt: {line!r} is not an exact pin"
        pins.setdefault(canonicalize_name(name), []).append((version, marker.strip()))
    return pins


def test_constraints_pin_every_dependency_within_its_range():
    # `make setup` installs with -c constraints.txt: a dependency added to pyproject.toml without
    # `make lock` would float to whatever is newest on a fresh machine, and a pin outside the range
    # pyproject.toml asks for would make the install fail
    from packaging.markers import Marker
    from packaging.utils import canonicalize_name

    pins = _pins()
    env = {"python_version": "3.11", "python_full_version": "3.11.9", "sys_platform": "linux"}
    env.update(platform_python_implementation="CPython", implementation_name="cpython")
    for req in _requirements():
        versions = [
            v for v, marker in pins.get(canonicalize_name(req.name), []) if not marker or Marker(marker).evaluate(env)
        ]
        assert versions, f"{req.name} is in pyproject.toml but not pinned in constraints.txt: run `make lock`"
        assert all(req.specifier.contains(v, prereleases=True) for v in versions), (req, versions)


def test_the_venv_has_the_pinned_versions():
    # what the tests run on is what constraints.txt says a fresh machine gets
    from importlib import metadata

    from packaging.markers import Marker
    from packaging.utils import canonicalize_name

    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {}
    for name, forks in _pins().items():
        versions = [v for v, marker in forks if not marker or Marker(marker).evaluate()]
        if name in installed and versions and installed[name] not in versions:
            wrong[name] = (installed[name], versions)
    assert not wrong, f"installed versions differ from constraints.txt (rm .venv/.installed && make setup): {wrong}"
