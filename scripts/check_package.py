"""Build the sdist and wheel, install the wheel in a fresh venv, and run it from there.

    python3 scripts/check_package.py [--constraints constraints/ci.txt]

A file missing from the package (a module, py.typed, the LICENSE) or a
dependency missing from pyproject.toml passes every test run from the checkout,
and breaks for whoever installs the wheel. So this check:

1. copies what git tracks to a scratch folder (as a fresh clone holds it), and
   builds there with `python -m build` (the sdist, then the wheel from the
   sdist) in a scratch venv holding the pinned build tools;
2. checks the LICENSE is in both, and every file git tracks under brubeck/ is
   in the wheel;
3. installs the wheel with its gevent and eventlet extras into a second venv
   (no system site-packages, no PYTHONPATH: nothing from the checkout or the
   machine can stand in for what the wheel lacks);
4. runs `brubeck --help` and examples/hello/app.py from that venv on each
   backend, checks an HTTP answer, and stops the app by its PID;
5. installs the wheel with its gunicorn extra alone into a third venv and
   serves the same example with `gunicorn -k gevent` from there (a GET answered
   200), as a user following the docs would; stopped by its PID.

Exit status 0 when all is well; otherwise each problem is printed. The venvs
are made without pip (this Python's pip installs into them with --python):
bootstrapping pip twice took longer than everything else together.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello" / "app.py"
BACKENDS = ("gevent", "eventlet")
STARTED = time.monotonic()
VERBOSE = bool(os.environ.get("CHECK_PACKAGE_VERBOSE"))


def tracked_files(root: Path, under: str = "") -> list[str]:
    """What git tracks (a stray .pyc, build output or editor file is not the
    project), else what is on disk; paths relative to `root`."""
    tracked = subprocess.run(["git", "ls-files", "-z", "--", under or "."], cwd=root,
                             capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout.strip("\0"):
        names = tracked.stdout.strip("\0").split("\0")
    else:
        names = [str(p.relative_to(root)) for p in (root / under).rglob("*") if p.is_file()]
    return sorted(n for n in names if "__pycache__" not in n and not n.endswith(".pyc")
                  and (root / n).is_file())


def package_files(root: Path) -> list[str]:
    """The files under brubeck/ that the wheel must hold."""
    return tracked_files(root, "brubeck")


def copy_checkout(root: Path, to: Path) -> Path:
    """The tracked files of `root` (as they are in the work tree) copied to `to`, so
    the build neither writes into the checkout nor packs an untracked file."""
    for name in tracked_files(root):
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, to / name)
    return to


def problems(wheel: Path, sdist: Path, expected: list[str]) -> list[str]:
    """What the two distributions lack: the LICENSE, or a package file (in the wheel)."""
    found = []
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    if not any(n.split("/")[0].endswith(".dist-info") and n.endswith("/LICENSE")
               for n in in_wheel):
        found.append(f"wheel {wheel.name} has no LICENSE in its .dist-info "
                     "(pyproject.toml: license-files = [\"LICENSE\"])")
    found += [f"wheel {wheel.name} lacks {name} (package-data in pyproject.toml?)"
              for name in expected if name not in in_wheel]
    with tarfile.open(sdist) as archive:
        in_sdist = {n.split("/", 1)[-1] for n in archive.getnames()}
    if "LICENSE" not in in_sdist:
        found.append(f"sdist {sdist.name} has no LICENSE at its top")
    return found


def run(*args: str | Path, **options) -> subprocess.CompletedProcess:
    """Run a command; on failure, show what it said and stop."""
    if VERBOSE:
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"package check: {time.monotonic() - STARTED:5.1f}s "
              f"(cpu {cpu.ru_utime + cpu.ru_stime:4.1f}s) "
              f"{' '.join(str(a) for a in args)[:120]}", file=sys.stderr)
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **options)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, args))}\n"
                 f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def venv(path: Path, pin: list[str], *requirements: str) -> Path:
    """A fresh venv (no system site-packages) holding `requirements`; returns its python."""
    run(sys.executable, "-m", "venv", "--without-pip", path)
    python = path / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile",
        "--only-binary=:all:", *pin, *requirements, env=clean_env())
    return python


def clean_env(**extra: str) -> dict[str, str]:
    """This environment minus whatever could put the checkout on sys.path."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"}
           and not k.startswith("BRUBECK_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """The body of the first successful GET of `url`, polling while `proc` starts."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.read().decode()
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s: {error}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM by PID, SIGKILL if it lingers: only the process we started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def hello(python: Path, backend: str, workdir: Path) -> str | None:
    """Run examples/hello/app.py with the installed wheel; None if it answered right."""
    port = free_port()
    env = clean_env(BRUBECK_CONCURRENCY=backend, BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
    log = workdir / f"hello-{backend}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), str(HELLO)], cwd=workdir, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        body = answers(f"http://127.0.0.1:{port}/brubeck", proc)
    except (RuntimeError, TimeoutError) as error:
        return f"hello on {backend}: {error}\n{log.read_text(errors='replace')[-2000:]}"
    finally:
        stop(proc)
    if body != "Take five, dude!\n":
        return f"hello on {backend} answered {body!r}"
    return None


def gunicorn_hello(venv_dir: Path, workdir: Path) -> str | None:
    """Serve examples/hello/app.py with `gunicorn -k gevent` from a venv holding only
    `brubeck[gunicorn]`; None if a GET was answered 200 with the example's text."""
    port = free_port()
    log = workdir / "hello-gunicorn.log"
    # No control socket: gunicorn 27 would make one in ~/.gunicorn, shared with any other
    # gunicorn of this user (the test suites' own, running meanwhile).
    command = [str(venv_dir / "bin" / "gunicorn"), "-k", "gevent", "-b", f"127.0.0.1:{port}",
               "--no-control-socket", "--chdir", str(HELLO.parent), "app:app"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=workdir, env=clean_env(), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/brubeck"
        body = answers(url, proc)
        with urllib.request.urlopen(url, timeout=5) as reply:
            status = reply.status
    except (RuntimeError, TimeoutError, OSError) as error:
        return f"hello under gunicorn -k gevent: {error}\n" \
               f"{log.read_text(errors='replace')[-2000:]}"
    finally:
        stop(proc)
    if (status, body) != (200, "Take five, dude!\n"):
        return f"hello under gunicorn -k gevent answered {status} {body!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--constraints", default=str(ROOT / "constraints" / "ci.txt"),
                        help="pins for every pip install here ('' for none)")
    args = parser.parse_args(argv)
    if not HELLO.is_file():
        sys.exit(f"package check: {HELLO} is missing (the app every install here serves)")
    pin = ["-c", str(Path(args.constraints).resolve())] if args.constraints else []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="brubeck-package-") as scratch:
        work = Path(scratch)
        source = copy_checkout(ROOT, work / "src")
        builder = venv(work / "build-venv", pin, "build", "setuptools")
        run(builder, "-m", "build", "--no-isolation", "--outdir", work / "dist", source,
            env=clean_env())
        wheel = next((work / "dist").glob("brubeck-*.whl"))
        sdist = next((work / "dist").glob("brubeck-*.tar.gz"))
        found = problems(wheel, sdist, package_files(ROOT))

        # The gunicorn venv fills meanwhile (pip waits on downloads and unpacking); leaving
        # the block waits for it, so the scratch folder outlives it even on a failure.
        with ThreadPoolExecutor(1) as side:
            gunicorn_venv = side.submit(venv, work / "gunicorn-venv", pin,
                                        f"brubeck[gunicorn] @ {wheel.as_uri()}")
            python = venv(work / "run-venv", pin,
                          f"brubeck[{','.join(BACKENDS)}] @ {wheel.as_uri()}")
            where = run(python, "-c", "import brubeck; print(brubeck.__file__)", cwd=work,
                        env=clean_env()).stdout.strip()
            if not Path(where).is_relative_to(work / "run-venv"):
                found.append(f"brubeck was imported from {where}, not from the installed wheel")
            usage = run(work / "run-venv" / "bin" / "brubeck", "--help", cwd=work,
                        env=clean_env())
            if "usage" not in usage.stdout.lower():
                found.append(f"brubeck --help printed no usage: {usage.stdout[:500]!r}")
            for backend in BACKENDS:
                trouble = hello(python, backend, work)
                if trouble:
                    found.append(trouble)
            gunicorn_venv.result()
        trouble = gunicorn_hello(work / "gunicorn-venv", work)
        if trouble:
            found.append(trouble)
    for problem in found:
        print(f"package check: {problem}", file=sys.stderr)
    print(f"package check: {wheel.name} and {sdist.name} "
          f"{'FAILED' if found else 'ok'} ({time.monotonic() - started:.0f}s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
