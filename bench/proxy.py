#!/usr/bin/env python3
"""A transfer through a real proxy against the same transfer direct: the bundled in-memory
server on loopback, tinyproxy (Debian `tinyproxy`) forwarding, s3blob's wall time and CPU
(user + system, its own) for an upload and a download of SIZE_MIB (default 1024), runs
interleaved, medians reported. Goal: through the proxy at most 1.3x the direct wall time.

    bench/proxy.py [BIN_DIR] [SIZE_MIB] [RUNS]   (default target/release 1024 3)
"""

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target", "release")
SIZE_MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 3


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(args, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    if shutil.which("tinyproxy") is None:
        sys.exit("tinyproxy not found: apt-get install tinyproxy")
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
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        env.pop(var, None)
    server = subprocess.Popen(
        [os.path.join(BIN, "s3blob-testserver"), "--memory", "--bucket", "bench"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    port = free_port()
    conf = os.path.join(work, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write(f"Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\nAllow 127.0.0.1\nLogLevel Error\n")
    proxy = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env["AWS_ENDPOINT_URL"] = server.stdout.readline().decode().strip()
        time.sleep(0.3)
        path = os.path.join(work, "file")
        with open(path, "wb") as f:
            for _ in range(SIZE_MIB):
                f.write(os.urandom(1 << 20))
        s3blob = os.path.join(BIN, "s3blob")
        results = {}
        for run in range(RUNS):
            for name, extra in (("direct", {}), ("tinyproxy", {"HTTP_PROXY": f"http://127.0.0.1:{port}"})):
                e = dict(env, **extra)
                rel = f"{name}-{run}"
                up = timed([s3blob, "upload", "--suite", "b", "--release", rel, path], e)
                down = timed(
                    [s3blob, "download", "--suite", "b", "--release", rel, "--filename", "file",
                     "-o", os.path.join(work, "back")], e,
                )
                os.remove(os.path.join(work, "back"))
                results.setdefault((name, "upload"), []).append(up)
                results.setdefault((name, "download"), []).append(down)
        print(f"{SIZE_MIB} MiB, plain loopback, medians of {RUNS} (wall s / s3blob CPU s)")
        for way in ("upload", "download"):
            d = results[("direct", way)]
            p = results[("tinyproxy", way)]
            dw, dc = statistics.median(w for w, _ in d), statistics.median(c for _, c in d)
            pw, pc = statistics.median(w for w, _ in p), statistics.median(c for _, c in p)
            print(f"  {way:<8} direct {dw:6.2f} / {dc:5.2f}   tinyproxy {pw:6.2f} / {pc:5.2f}   ratio {pw / dw:4.2f}x")
    finally:
        proxy.kill()
        server.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
