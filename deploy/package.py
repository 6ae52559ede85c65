"""`make package`: the functions' deployment artifact, built without SAM (`sam build` runs it too).

    python3.12 -m deploy.package [--out build/function] [--zip build/function.zip]

It holds only what runs in Lambda: handler.py, run.sh (the streaming function's start), lib/ without
the admin command, routes.toml when there
is one (the function reads it from its own folder, template parameter RoutesFile), and requirements.txt's
packages for the functions' platform (arm64, the template's Python). tests/, local/, bench/, the dev
dependencies, the console scripts pip writes to bin/ (with this machine's paths in their shebangs) and
packages that never run (`NEVER_RUN`) stay out; boto3 comes with the Lambda runtime.

Every module ships bytecode compiled by the runtime's own Python. Lambda's /var/task is read-only, so
without it every cold start compiles every module again. The bytecode is hash-based and unchecked:
a zip keeps modification times only to 2 seconds, which invalidates timestamp-checked .pyc files, and
a deployed package never changes under its bytecode, so there is nothing to check.

Standard library only: `sam build` runs this with the runtime's Python, outside any virtual environment.
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The routes file, packaged when it exists; the function reads it from its own folder (RoutesFile).
ROUTES_FILE = "routes.toml"
# The streaming function's handler (template: StreamFunction): the Lambda Web Adapter, which
# AWS_LAMBDA_EXEC_WRAPPER starts, runs it and forwards each invocation to the server it starts.
STARTUP_SCRIPT = "run.sh"
STARTUP_SCRIPT_TEXT = """#!/bin/sh
# The streaming Function URL: the gateway's HTTP server on AWS_LWA_PORT, behind the Lambda Web Adapter.
exec python3 -m handler
"""
# The command-line tool for operators, never imported by a function.
ADMIN_ONLY = "lib/admin/"
# Installed as a dependency but never run by the functions. requests only asks charset_normalizer to
# guess the encoding of a text body that declares none (`Response.text`); the gateway reads bytes and
# JSON, and without it requests falls back to UTF-8 (handler.py silences the warning it gives). It is
# a tenth of the cold start's own imports.
NEVER_RUN = ("charset_normalizer",)
PLATFORM = "manylinux2014_aarch64"  # the template's Architectures: [arm64]
# Lambda's own limits on a function package.
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
ZIPPED_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024


class PackageError(Exception):
    """The artifact cannot be built as asked; the message says what to do."""


def runtime_version(template: Path = ROOT / "template.yaml") -> tuple[int, int]:
    """The functions' Python, from the template's `Runtime: python3.X`."""
    text = template.read_text(encoding="utf-8")
    match = re.search(r"^\s+Runtime:\s*python3\.(\d+)\s*$", text, re.MULTILINE)
    if not match:
        raise PackageError(f"no `Runtime: python3.X` in {template}")
    return 3, int(match.group(1))


def copy_sources(root: Path, out: Path) -> None:
    """handler.py, lib/ (no bytecode of this machine's Python, no admin command) and routes.toml."""
    shutil.copy2(root / "handler.py", out / "handler.py")
    script = out / STARTUP_SCRIPT
    script.write_text(STARTUP_SCRIPT_TEXT, encoding="utf-8")
    script.chmod(0o755)
    if (root / ROUTES_FILE).is_file():
        shutil.copy2(root / ROUTES_FILE, out / ROUTES_FILE)
    for source in sorted((root / "lib").rglob("*")):
        relative = source.relative_to(root)
        if source.is_dir() or "__pycache__" in relative.parts or source.suffix == ".pyc":
            continue
        if relative.as_posix().startswith(ADMIN_ONLY):
            continue
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, out / relative)


def install_requirements(out: Path, requirements: Path, version: tuple[int, int]) -> None:
    """requirements.txt's wheels for Lambda's platform, whatever this machine is; no bytecode yet."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(out),
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        f"{version[0]}.{version[1]}",
        "--only-binary=:all:",
        "-r",
        str(requirements),
    ]
    try:
        subprocess.run(command, check=True)  # noqa: S603 (a fixed command: this Python's pip)
    except subprocess.CalledProcessError as exc:
        raise PackageError(f"pip could not install {requirements.name} (exit {exc.returncode})") from None


def prune(out: Path) -> None:
    """What pip leaves that never runs in Lambda: console scripts, packages the functions never run,
    and bytecode of another Python."""
    shutil.rmtree(out / "bin", ignore_errors=True)
    for name in NEVER_RUN:
        for path in [out / name, *out.glob(f"{name}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)
    for cache in sorted(out.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


def compile_bytecode(out: Path) -> None:
    """Bytecode for the running Python, used whatever the files' modification times say."""
    ok = compileall.compile_dir(
        str(out),
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise PackageError("some modules did not compile (see above)")


def write_zip(out: Path, zip_path: Path) -> None:
    """The artifact as one zip (for the console, Terraform, CDK ...), entries in a stable order."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(out).as_posix())


def tree_size(out: Path) -> tuple[int, int]:
    """(files, bytes) under out."""
    files = [path for path in out.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def build(out: Path, zip_path: Path | None, root: Path = ROOT) -> None:
    """Build the artifact into `out` (emptied first), and the zip when asked."""
    version = runtime_version(root / "template.yaml")
    if sys.version_info[:2] != version:
        raise PackageError(
            f"the functions run Python {version[0]}.{version[1]} and their bytecode must come from it; "
            f"this is Python {sys.version_info[0]}.{sys.version_info[1]}. Install Python "
            f"{version[0]}.{version[1]} or name it: make package LAMBDA_PYTHON=/path/to/python3.{version[1]}"
        )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    copy_sources(root, out)
    install_requirements(out, root / "requirements.txt", version)
    prune(out)
    compile_bytecode(out)
    if zip_path is not None:
        write_zip(out, zip_path)


def size_report(out: Path, zip_path: Path | None) -> str:
    files, size = tree_size(out)
    lines = [f"{out}: {size / 1e6:.1f} MB in {files:,} files (Lambda allows 250 MB unzipped)"]
    if size > UNZIPPED_LIMIT_BYTES:
        lines.append("  too large for a Lambda function")
    if zip_path is not None and zip_path.is_file():
        zipped = zip_path.stat().st_size
        lines.append(f"{zip_path}: {zipped / 1e6:.1f} MB zipped (a direct upload may be up to 50 MB)")
        if zipped > ZIPPED_UPLOAD_LIMIT_BYTES:
            lines.append("  larger than a direct upload allows: upload it to S3 first")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "function")
    parser.add_argument("--zip", type=Path, default=None, help="also write the artifact as this zip file")
    parser.add_argument("--report", action="store_true", help="only print the sizes of a built artifact")
    parser.add_argument("--quiet", action="store_true", help="build without printing the sizes")
    args = parser.parse_args(argv)
    out, zip_path = args.out.resolve(), args.zip.resolve() if args.zip else None
    try:
        if not args.report:
            build(out, zip_path)
        if not args.quiet:
            print(size_report(out, zip_path))
    except PackageError as exc:
        print(f"make package: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
