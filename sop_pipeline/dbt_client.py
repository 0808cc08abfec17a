"""dbt's command line, run by the cycle's warm dbt server (sop_pipeline/dbt_server.py).

Usage: `python -S -E dbt_client.py --sop-socket SOCKET --sop-dbt DBT ARGS...` (dagster-dbt runs it as
the dbt executable `python` with the rest before ARGS as the resource's global flags). Standard
library only, so it starts in ~20 ms without the environment's site-packages. It sends ARGS, its
environment and working directory to the server on SOCKET, copies the output of the forked dbt to
its stdout, forwards SIGINT/SIGTERM to it and exits with its exit code. When there is no server,
or the server answers FALLBACK, it becomes the real dbt (DBT) with the same arguments.
"""

import json
import os
import signal
import socket
import sys

EXIT_MARK = b"\0sop-dbt-exit "  # dbt_server.EXIT_MARK (not imported: this file runs without the package)
FIRST_LINE_TIMEOUT = 600  # the server answers once its parse is done (seconds of CPU; minutes under load)


def _become_dbt(dbt: str, args: list) -> None:
    os.execv(dbt, [dbt, *args])


def main(argv: list) -> int:
    if argv[1:2] != ["--sop-socket"] or argv[3:4] != ["--sop-dbt"]:
        sys.stderr.write("usage: dbt_client.py --sop-socket SOCKET --sop-dbt DBT [dbt arguments]\n")
        return 2
    sock_path, dbt, args = argv[2], argv[4], argv[5:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
        request = {"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}
        conn.sendall(json.dumps(request).encode() + b"\n")
        conn.settimeout(FIRST_LINE_TIMEOUT)
        stream = conn.makefile("rb")
        first = stream.readline()
    except OSError:
        first = b""
    if not first.startswith(b"OK "):
        conn.close()
        _become_dbt(dbt, args)
    conn.settimeout(None)
    child = int(first.split()[1])

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except OSError:
            pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    out = sys.stdout.buffer
    code = None
    for line in stream:
        head, mark, tail = line.partition(EXIT_MARK)  # the mark may follow output without a newline
        if mark:
            code = int(tail.strip() or 2)
        out.write(head)
        out.flush()
    if code is None:
        sys.stderr.write("dbt (warm server) ended without an exit code\n")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
