#!/usr/bin/env python3
"""Quick start for a fresh machine that has only Python 3.11 and pip.

    python3 dev.py run     install (locked, hashed), migrate every database, load the demo, serve
    python3 dev.py test    install the test tools (locked), run the test suite; extra arguments go to pytest

Everything goes into ./.venv; the installation is skipped when the lock files have not changed.
Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
RUNTIME_LOCK = ROOT / "requirements" / "lock.txt"
DEV_LOCK = ROOT / "requirements" / "dev-lock.txt"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    install(python, DEV_LOCK if command == "test" else RUNTIME_LOCK)
    os.chdir(ROOT)
    if command == "test":
        return call([str(python), "-m", "pytest", *rest], check=False)
    souscription = [str(python), "-m", "souscription"]
    call([*souscription, "migrate", "-v", "0"])
    call([*souscription, "demo"])
    return call([*souscription, "serve", *rest], check=False)


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if python.exists() and _version(python) == (3, 11):
        return python
    interpreter = _find_python_311()
    if VENV.exists():
        shutil.rmtree(VENV)
    say(f"Création de l'environnement virtuel .venv avec {interpreter}")
    call([interpreter, "-m", "venv", str(VENV)])
    return python


def install(python: Path, lock: Path) -> None:
    stamp = VENV / f".installed-{lock.stem}"
    wanted = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    say(f"Installation des dépendances verrouillées ({lock.relative_to(ROOT)})")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    call([*pip, "--require-hashes", "--no-deps", "-r", str(lock)])
    call([*pip, "--no-deps", "-e", str(ROOT)])
    for other in VENV.glob(".installed-*"):
        other.unlink()
    stamp.write_text(wanted)


def _find_python_311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    for name in ("python3.11", "python3"):
        found = shutil.which(name)
        if found and _version(Path(found)) == (3, 11):
            return found
    sys.exit("Python 3.11 est requis (Django 5.2 LTS et nos verrous le ciblent) : installez python3.11.")


def _version(python: Path) -> tuple[int, int] | None:
    try:
        out = subprocess.run(  # noqa: S603 - a local interpreter found on PATH, no shell
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    major, minor = out.split()
    return int(major), int(minor)


def call(command: list[str], *, check: bool = True) -> int:
    code = subprocess.call(command)  # noqa: S603 - our own interpreter and commands, no shell
    if check and code != 0:
        sys.exit(f"Échec ({code}) : {' '.join(command)}")
    return code


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
