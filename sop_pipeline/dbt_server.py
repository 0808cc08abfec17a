"""A warm dbt for the cycle's dbt steps: dbt imported and the project parsed once, while ingest runs.

Each `dbt build` step of a cycle used to start a new dbt process: ~2 s of imports (3.5-4 s under
load) and ~1.5 s (3-5 s) to load the partial-parse state, check it, and write the manifest and the
graph, before its first model; twice a cycle. Here `meta/cycle` starts one server process per data
dir (`start`), which imports dbt and parses the project with the cycle's `--vars` on the other core
while ingest runs, then waits on a Unix socket. The dbt steps hand dagster-dbt this interpreter as
their dbt executable, with `-S -E dbt_client.py --sop-socket SOCKET --sop-dbt DBT` as its leading
arguments (`Server.command`; dagster-dbt's global flags): the client, standard library only (~20
ms), sends the rest of its arguments, its environment and working directory to the server. The
server forks a child that runs them with `dbtRunner(manifest=<the parsed manifest>)`, its
stdout and stderr being the socket, and sends the exit code dbt's CLI would give (0, 1 model or
test failures, 2 error). dagster-dbt reads the same JSON log lines and artifacts as from dbt's
CLI; each invocation is a fresh fork, so no invocation sees another's state.

What the child cannot reproduce exactly, it does not try: when the invocation's environment
differs from the server's in a variable dbt has no command-line flag for here (`_flags_for_env`),
the server answers FALLBACK and the client runs the real dbt in its place (so does a client that
finds no server). The parsed manifest is used only for the `--vars`, `--target` and project it was
parsed with; any other invocation parses for itself (partial parse), in the warm process.

The server's own parse state lives in `<dbt target dir>/sop_dbt_parse`, so the next cycle of the
data dir parses only what changed, and a dbt step that runs without the server copies it from there.
The server ends with the process that started it (`stop`, at exit), when that process is gone, or
after IDLE_SECONDS without a request. It holds ~140 MB (dbt and the manifest).
"""

from __future__ import annotations

import atexit
import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLIENT = Path(__file__).with_name("dbt_client.py")
PARSE_DIR = "sop_dbt_parse"  # under the dbt target root: the server's parse (and partial-parse state)
EXIT_MARK = b"\0sop-dbt-exit "  # the child's last line: the exit code (never a line of dbt's output)
IDLE_SECONDS = 1800
# environment variables dagster-dbt sets for a dbt invocation, as the flags that say the same
ENV_FLAGS = {
    "DBT_TARGET_PATH": "--target-path",
    "DBT_LOG_PATH": "--log-path",
    "DBT_LOG_FORMAT": "--log-format",
    "DBT_PROFILES_DIR": "--profiles-dir",
    "DBT_PROJECT_DIR": "--project-dir",
    "DBT_INDIRECT_SELECTION": "--indirect-selection",
}
BOOL_ENV_FLAGS = {"DBT_SEND_ANONYMOUS_USAGE_STATS": ("--send-anonymous-usage-stats", "--no-send-anonymous-usage-stats")}
# no effect on dbt's results: dagster-dbt's markers, the terminal's size, and what a shell sets
IGNORED_ENV = {"DAGSTER_DBT_CLI", "PYTHONUNBUFFERED", "PYTHONLEGACYWINDOWSSTDIO", "COLUMNS", "LINES"}
IGNORED_ENV |= {"PWD", "OLDPWD", "SHLVL", "_"}


@dataclass
class Server:
    process: subprocess.Popen
    socket_path: Path
    command: list[str]  # the dbt command of a step: the client, its socket, the real dbt to fall back to
    key: tuple  # (vars, target): the invocations whose manifest the server parsed


_SERVERS: dict[Path, Server] = {}  # dbt target root -> its server, started by this process
_started = itertools.count(1)  # numbers this process's sockets


def _socket_path(n: int) -> Path:
    """A short path (Unix socket paths are limited to ~100 bytes), private to this user and process."""
    base = Path(tempfile.gettempdir())
    path = base / f"sop-dbt-{os.getuid()}-{os.getpid()}-{n}.sock"
    return path if len(str(path)) < 100 else Path("/tmp") / path.name


def start(root: Path, vars_arg: str, target: str | None, project_dir: Path, dbt_executable: str) -> Server | None:
    """Start the warm dbt server for the dbt target root `root` and these `--vars` / `--target`
    (None: profiles.yml's default), unless this process has one for them; None when it cannot start
    (not a POSIX system with fork): the dbt steps then run dbt's CLI."""
    server = running(root, vars_arg, target)
    if server is not None:
        return server
    stop(root)  # one for other vars or target, or one that ended
    if os.name != "posix" or not hasattr(os, "fork"):
        return None
    parse_dir = root / PARSE_DIR
    parse_dir.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(next(_started))
    sock.unlink(missing_ok=True)
    # this file run as a script (it imports nothing of the package): the server is this process's code
    cmd = [sys.executable, str(Path(__file__).resolve()), str(sock), str(parse_dir), vars_arg, target or ""]
    cmd += [str(project_dir), str(os.getpid())]
    try:
        with open(parse_dir / "server.log", "ab") as log:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=project_dir)
    except OSError:
        return None
    client = [sys.executable, "-S", "-E", str(CLIENT), "--sop-socket", str(sock), "--sop-dbt", dbt_executable]
    server = _SERVERS[root] = Server(process, sock, client, (vars_arg, target or ""))
    return server


def running(root: Path, vars_arg: str, target: str | None) -> Server | None:
    """This process's server for `root`, when it is alive and parsed with these vars and target."""
    server = _SERVERS.get(root)
    if server is None or server.key != (vars_arg, target or "") or server.process.poll() is not None:
        return None
    return server


def stop(root: Path) -> None:
    server = _SERVERS.pop(root, None)
    if server is None:
        return
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    server.socket_path.unlink(missing_ok=True)


def stop_all() -> None:
    for root in list(_SERVERS):
        stop(root)


atexit.register(stop_all)  # this process's servers end with it


# --------------------------------------------------------------------------- the server process


def _flags_for_env(env: dict[str, str], argv: list[str]) -> tuple[list[str], list[str]]:
    """The flags that give dbt, run in this process, the invocation's environment `env` (the dbt
    variables dagster-dbt sets; a flag already in `argv` wins, as on dbt's CLI), and the variables
    in which `env` differs from this process's environment that no flag can express (the
    invocation then needs dbt's CLI)."""
    own = os.environ
    flags: list[str] = []
    other: list[str] = []
    for name in sorted(set(env) | set(own)):
        value, mine = env.get(name), own.get(name)
        if value == mine or name in IGNORED_ENV:
            continue
        if value is not None and name in ENV_FLAGS:
            if ENV_FLAGS[name] not in argv:
                flags += [ENV_FLAGS[name], value]
        elif value is not None and name in BOOL_ENV_FLAGS:
            on, off = BOOL_ENV_FLAGS[name]
            if on not in argv and off not in argv:
                flags.append(on if value.strip().lower() in ("1", "true", "yes", "y", "t") else off)
        else:
            other.append(name)
    return flags, other


def _arg(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _exit_code(result) -> int:
    """dbt's CLI exit code for a dbtRunner result: 0 success, 1 model or test failures, 2 error."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def _child(conn: socket.socket, argv: list[str], cwd: str, manifest) -> None:
    """Run one dbt invocation in this forked process, its output on the socket; never returns."""
    code = 2
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(conn.fileno(), 1)
        os.dup2(conn.fileno(), 2)
        conn.close()
        os.write(1, f"OK {os.getpid()}\n".encode())
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
        os.chdir(cwd)
        from dbt.cli.main import dbtRunner

        result = dbtRunner(manifest=manifest).invoke(argv)
        code = _exit_code(result)
        if result.exception is not None:
            print(f"dbt error: {result.exception}", file=sys.stderr)
    except BaseException as exc:  # reported on the socket; the client exits with 2
        try:
            print(f"dbt server: {type(exc).__name__}: {exc}", file=sys.stderr)
        except Exception:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(1, EXIT_MARK + f"{code}\n".encode())
        finally:
            os._exit(code)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _read_request(conn: socket.socket) -> dict | None:
    conn.settimeout(30)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    conn.settimeout(None)
    return json.loads(data)


def serve(sock_path: str, parse_dir: str, vars_arg: str, target: str, project_dir: str, owner: int) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)  # the socket is this user's only: whoever connects runs dbt as this user
    try:
        listener.bind(sock_path)
    finally:
        os.umask(mask)
    listener.listen(16)  # a client that connects now waits in the backlog until the parse is done
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", project_dir, "--profiles-dir", project_dir] + (["--target", target] if target else [])
    parsed = dbtRunner().invoke(
        ["parse", "--vars", vars_arg, *common, "--target-path", parse_dir, "--log-path", parse_dir]
        + ["--quiet", "--log-format-file", "json", "--no-send-anonymous-usage-stats"]
    )
    manifest = parsed.result if parsed.success else None
    listener.settimeout(1.0)
    last = time.monotonic()
    while os.getppid() == owner and time.monotonic() - last < IDLE_SECONDS:
        _reap()
        try:
            conn, _ = listener.accept()
        except (socket.timeout, InterruptedError):
            continue
        last = time.monotonic()
        try:
            request = _read_request(conn)
            argv, env, cwd = request["argv"], request["env"], request["cwd"]
            flags, other = _flags_for_env(env, argv)
        except Exception:
            conn.close()
            continue
        if other:
            print(f"FALLBACK: the environment differs in {other}", file=sys.stderr, flush=True)
            conn.sendall(b"FALLBACK\n")
            conn.close()
            continue
        same = (
            _arg(argv, "--vars") == vars_arg
            and (_arg(argv, "--target") or "") == target
            and Path(_arg(argv + flags, "--project-dir") or cwd).resolve() == Path(project_dir).resolve()
        )
        if os.fork() == 0:
            listener.close()
            _child(conn, argv + flags, cwd, manifest if same else None)
        conn.close()
    listener.close()


def main(argv: list[str]) -> None:
    # run as a script, its folder is first on sys.path: the package's module names must not shadow dbt's imports
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
    sock, parse, vars_arg, target, project, owner = argv[1:7]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(sock, parse, vars_arg, target, project, int(owner))
    finally:  # also when the owner is gone without `stop` (a step process that ended with os._exit)
        Path(sock).unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv)
