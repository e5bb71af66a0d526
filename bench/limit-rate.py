#!/usr/bin/env python3
"""The bandwidth cap, timed: a 64 MiB upload and download under `--limit-rate 8MiB/s` against
the bundled in-memory server on loopback. Reports the wall time (goal: 8 s within 10 %) and the
most bytes moved in any one-second window (goal: within 10 % of the cap), read from the
process's own I/O counters every 50 ms (/proc/PID/io `wchar`: the upload's socket writes, the
download's writes into its file, which follow what arrives). Linux only.

    bench/limit-rate.py [BIN_DIR]   (default target/release; needs s3blob and s3blob-testserver)
"""

import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target", "release")
RATE = 8 << 20
SIZE = 64 << 20


def io_counter(pid, field):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                name, value = line.split(":")
                if name == field:
                    return int(value)
    except OSError:
        return None
    return None


def run(args, env, field):
    start = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = []
    while proc.poll() is None:
        value = io_counter(proc.pid, field)
        if value is not None:
            samples.append((time.monotonic() - start, value))
        time.sleep(0.05)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}: {proc.stderr.read().decode()}")
    worst = 0
    for i, (t0, v0) in enumerate(samples):
        inside = [v for t, v in samples[i:] if t <= t0 + 1.0]
        if samples[-1][0] >= t0 + 1.0:
            worst = max(worst, inside[-1] - v0)
    return wall, worst


def main():
    work = tempfile.mkdtemp()
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="benchaccesskey",
        AWS_SECRET_ACCESS_KEY="benchsecretkey0123456789",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        HOME=work,
        S3BLOB_BUCKET="bench",
    )
    server = subprocess.Popen(
        [os.path.join(BIN, "s3blob-testserver"), "--memory", "--bucket", "bench"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        env["AWS_ENDPOINT_URL"] = server.stdout.readline().decode().strip()
        path = os.path.join(work, "f64m")
        with open(path, "wb") as f:
            f.write(os.urandom(SIZE))
        s3blob = os.path.join(BIN, "s3blob")
        cap = ["--limit-rate", "8MiB/s"]
        rows = [
            ("upload", run([s3blob, "upload", "--suite", "b", "--release", "1", *cap, path], env, "wchar")),
            (
                "download",
                run(
                    [s3blob, "download", "--suite", "b", "--release", "1", "--filename", "f64m",
                     "-o", os.path.join(work, "back"), *cap],
                    env,
                    "wchar",
                ),
            ),
        ]
        print(f"64 MiB under --limit-rate 8MiB/s (goal: 8 s +-10 %, no second over {RATE * 1.1 / 2**20:.1f} MiB)")
        for name, (wall, worst) in rows:
            print(f"  {name:<8} wall {wall:5.2f} s   busiest second {worst / 2**20:5.2f} MiB ({worst / RATE:.0%} of the cap)")
    finally:
        server.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
