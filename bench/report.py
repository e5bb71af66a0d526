#!/usr/bin/env python3
"""Turns the raw benchmark data written by bench/run.sh into bench/RESULTS.md.

usage: report.py RAW_DIR OUT.md   (OUT "-" prints to stdout)

RAW_DIR holds main.tsv, sweep.tsv, many.tsv (one row per timed command), meta.txt,
sweep-meta.txt, many-meta.txt, fsync.txt, profile.txt and notes.md (hand-written notes,
appended as they are); any of them may be missing.
"""

import csv
import os
import re
import statistics
import sys

SIZES = ["1k", "64m", "1g", "4g"]
SIZE_LABEL = {"1k": "1 KiB", "64m": "64 MiB", "1g": "1 GiB", "4g": "4 GiB"}
TOOLS = ["s3blob", "s5cmd", "s5cmd-tuned", "aws", "rclone", "curl"]
TOOL_LABEL = {
    "s3blob": "s3blob",
    "s5cmd": "s5cmd",
    "s5cmd-tuned": "s5cmd -c 20 -p 8",
    "aws": "aws cli",
    "rclone": "rclone",
    "curl": "curl (raw limit)",
}
SERVERS = ["memory", "s3-model"]
SERVER_LABEL = {
    "memory": "in-memory server, plain loopback",
    "s3-model": "in-memory server, S3-like network model (90 MB/s per connection and direction, 30 ms per response)",
}


def load(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        for k in ("wall_s", "user_s", "sys_s", "fsync_s", "server_cpu_s", "other_cpu_s"):
            try:
                r[k] = float(r.get(k))
            except (TypeError, ValueError):
                r[k] = float("nan")
        r["rss_mib"] = int(r["rss_kb"] or 0) / 1024
        r["cpu_s"] = r["user_s"] + r["sys_s"]
        r["wallsync_s"] = r["wall_s"] + r["fsync_s"]
    return rows


def load_many(path):
    """many.tsv: the columns of main.tsv plus connections, requests, files, bytes, release."""
    rows = load(path)
    for r in rows:
        for k in ("connections", "requests", "files", "bytes"):
            try:
                r[k] = float(r.get(k))
            except (TypeError, ValueError):
                r[k] = float("nan")
    return rows


def read_text(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().rstrip("\n")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x):
    if x != x:  # nan
        return "-"
    if x < 0.1:
        return f"{x * 1000:.1f} ms"
    return f"{x:.2f} s"


def fmt_cpu(x):
    # /usr/bin/time reports CPU in 10 ms steps.
    return "-" if x != x else f"{x:.2f} s"


def fmt_mib(x):
    return "-" if x != x else f"{x:.1f}"


class Cell:
    """The ok runs of one (server, tool, size, dir, config)."""

    def __init__(self, rows):
        self.all = rows
        self.ok = [r for r in rows if r["status"] == "ok"]

    def stat(self, key, how=med):
        xs = [r[key] for r in self.ok if r[key] == r[key]]
        return how(xs) if xs else float("nan")

    @property
    def status(self):
        bad = [r["status"] for r in self.all if r["status"] != "ok"]
        if not self.all:
            return "not run"
        return "ok" if not bad else f"{len(self.ok)}/{len(self.all)} ok ({', '.join(sorted(set(bad)))})"


def index(rows):
    out = {}
    for r in rows:
        out.setdefault((r["server"], r["tool"], r["size"], r["dir"], r["config"]), []).append(r)
    return {k: Cell(v) for k, v in out.items()}


def ratio(a, b):
    if a != a or b != b or b == 0:
        return float("nan")
    return a / b


def goals_table(ix, server, goals):
    lines = [
        "| case | goal | s3blob (median / min) | s5cmd (median / min) | ratio of medians | ratio of mins | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, size, d, key, limit in goals:
        a = ix.get((server, "s3blob", size, d, "default"))
        b = ix.get((server, "s5cmd", size, d, "default"))
        if not a or not b or not a.ok or not b.ok:
            lines.append(f"| {label} | ≤ {limit}x | not measured | | | | |")
            continue
        am, an = a.stat(key), a.stat(key, min)
        bm, bn = b.stat(key), b.stat(key, min)
        rm, rn = ratio(am, bm), ratio(an, bn)
        met = "yes" if rm <= limit else "**no**"
        lines.append(
            f"| {label} | ≤ {limit}x | {fmt_s(am)} / {fmt_s(an)} | {fmt_s(bm)} / {fmt_s(bn)} "
            f"| {rm:.2f}x | {rn:.2f}x | {met} |"
        )
    return lines


def rss_goal(ix, server="memory"):
    lines = [
        "| peak RSS, MiB: median (max) over runs | upload | download |",
        "|---|---|---|",
    ]
    med_, max_ = {}, {}
    for tool in ("s3blob", "s5cmd"):
        for size in ("1g", "4g"):
            row = []
            for d in ("up", "down"):
                c = ix.get((server, tool, size, d, "default"))
                m = c.stat("rss_mib") if c and c.ok else float("nan")
                x = c.stat("rss_mib", max) if c and c.ok else float("nan")
                if tool == "s3blob":
                    med_[(size, d)], max_[(size, d)] = m, x
                row.append(f"{fmt_mib(m)} ({fmt_mib(x)})")
            name = "s3blob" if tool == "s3blob" else "s5cmd (reference)"
            lines.append(f"| {name}, {SIZE_LABEL[size]} | {row[0]} | {row[1]} |")
    known = [v for v in max_.values() if v == v]
    if len(known) == 4:
        under = max(known) <= 32
        diffs = {d: med_[("4g", d)] - med_[("1g", d)] for d in ("up", "down")}
        same = all(abs(v) <= 2 for v in diffs.values())
        verdict = (
            f"Goal: ≤ 32 MiB (largest s3blob peak: {max(known):.1f} MiB → "
            f"{'met' if under else '**not met**'}) and the same for both sizes (here: medians "
            f"within 2 MiB; 4 GiB vs 1 GiB: upload {diffs['up']:+.1f} MiB, download "
            f"{diffs['down']:+.1f} MiB → {'met' if same else '**not met**'})."
        )
    else:
        verdict = "Goal: ≤ 32 MiB and the same for both sizes: not fully measured."
    return lines + ["", verdict]


def detail_table(ix, server, sizes):
    lines = [
        "| size | dir | tool | ok runs | wall median (min) | wall + fsync median (min) | client CPU median (min) | peak RSS MiB median (max) | server CPU median | other CPU median (max) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for d in ("up", "down"):
            for tool in TOOLS:
                c = ix.get((server, tool, size, d, "default"))
                if not c:
                    continue
                n = f"{len(c.ok)}/{len(c.all)}" if c.status == "ok" else c.status
                ws = (
                    f"{fmt_s(c.stat('wallsync_s'))} ({fmt_s(c.stat('wallsync_s', min))})"
                    if d == "down"
                    else "n/a"
                )
                lines.append(
                    f"| {SIZE_LABEL[size]} | {d} | {TOOL_LABEL[tool]} | {n} "
                    f"| {fmt_s(c.stat('wall_s'))} ({fmt_s(c.stat('wall_s', min))}) | {ws} "
                    f"| {fmt_cpu(c.stat('cpu_s'))} ({fmt_cpu(c.stat('cpu_s', min))}) "
                    f"| {fmt_mib(c.stat('rss_mib'))} ({fmt_mib(c.stat('rss_mib', max))}) "
                    f"| {fmt_cpu(c.stat('server_cpu_s'))} "
                    f"| {fmt_cpu(c.stat('other_cpu_s'))} ({fmt_cpu(c.stat('other_cpu_s', max))}) |"
                )
    return lines


def sweep_tables(ix):
    out = []
    configs = [f"p{p}c{c}" for p in (8, 16, 32) for c in (4, 8, 16, 32)] + ["default"]
    for server in SERVERS:
        have = [k for k in ix if k[0] == server and k[1] == "s3blob" and k[2] == "1g"]
        if not have:
            continue
        out += [f"#### {SERVER_LABEL[server]}", ""]
        out += [
            "| part size | concurrency | upload wall median (min) | upload CPU | upload RSS MiB | download wall + fsync median (min) | download CPU | download RSS MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        best = {}
        for d, key in (("up", "wall_s"), ("down", "wallsync_s")):
            cand = [(ix[(server, "s3blob", "1g", d, c)].stat(key), c) for c in configs
                    if (server, "s3blob", "1g", d, c) in ix and ix[(server, "s3blob", "1g", d, c)].ok]
            if cand:
                best[d] = min(cand)[1]
        for cfg in configs:
            up = ix.get((server, "s3blob", "1g", "up", cfg))
            dn = ix.get((server, "s3blob", "1g", "down", cfg))
            if not up and not dn:
                continue
            if cfg == "default":
                p, c = "default", "default"
            else:
                p, c = cfg[1:].split("c")
                p = f"{p} MiB"

            def cell(x, key, d):
                if not x or not x.ok:
                    return "-" if not x else x.status
                s = f"{fmt_s(x.stat(key))} ({fmt_s(x.stat(key, min))})"
                return f"**{s}**" if best.get(d) == cfg else s

            out.append(
                f"| {p} | {c} | {cell(up, 'wall_s', 'up')} | {fmt_cpu(up.stat('cpu_s')) if up else '-'} "
                f"| {fmt_mib(up.stat('rss_mib', max)) if up else '-'} | {cell(dn, 'wallsync_s', 'down')} "
                f"| {fmt_cpu(dn.stat('cpu_s')) if dn else '-'} | {fmt_mib(dn.stat('rss_mib', max)) if dn else '-'} |"
            )
        out.append("")
    return out



# ---------------------------------------------------------------------------------------------
# Whole releases (bench/run.sh many)
# ---------------------------------------------------------------------------------------------
MANY_SETS = ["small", "large", "mixed"]
MANY_SET_DEFAULT = {"small": "1,000 x 4 KiB", "large": "10,000 x 4 KiB", "mixed": "1 x 1 GiB + 200 x 64 KiB"}
MANY_TOOLS = ["s3blob", "s5cmd", "aws"]
# case -> (description, the s5cmd case s3blob is compared with)
MANY_CASES = {
    "up": ("upload to a fresh release", "up"),
    "reup": ("identical re-upload (same release again)", "up"),
    "up-seal": ("upload --seal (the release downloaded and listed below; once)", "up"),
    "down": ("download of the whole sealed release", "down"),
    "down-s5cmd": ("download of a release uploaded by s5cmd", "down"),
    "list": ("list of the sealed release", "list"),
}
MANY_CMD = {
    ("up", "s3blob"): "cd DIR; s3blob upload --suite S --release R *",
    ("reup", "s3blob"): "the same again",
    ("up-seal", "s3blob"): "cd DIR; s3blob upload --seal --suite S --release R *",
    ("up", "s5cmd"): "s5cmd cp 'DIR/*' s3://B/P/",
    ("up", "aws"): "aws s3 cp --recursive DIR s3://B/P/",
    ("down", "s3blob"): "s3blob download --all -o OUT",
    ("down-s5cmd", "s3blob"): "s3blob download --all -o OUT",
    ("down", "s5cmd"): "s5cmd cp 's3://B/P/*' OUT/",
    ("down", "aws"): "aws s3 cp --recursive s3://B/P/ OUT",
    ("list", "s3blob"): "s3blob list --suite S --release R",
    ("list", "s5cmd"): "s5cmd ls 's3://B/P/*'",
    ("list", "aws"): "aws s3 ls s3://B/P/",
}


def many_key(case):
    return "wallsync_s" if case.startswith("down") else "wall_s"


def many_label(ix, size):
    for k, c in ix.items():
        if k[2] == size and c.all:
            lab = c.all[0].get("release") or ""
            m = re.match(r"^(\d+) x (.*)$", lab)
            if m and "+" not in lab:
                return f"{int(m.group(1)):,} x {m.group(2)}"
            if lab:
                return lab
    return MANY_SET_DEFAULT[size]


def fmt_count(c, key):
    xs = [r[key] for r in c.ok if r[key] == r[key]]
    if not xs:
        return "-"
    m, lo, hi = med(xs), min(xs), max(xs)
    s = f"{m:,.0f}" if m == int(m) else f"{m:,.1f}"
    return s if lo == hi else f"{s} ({lo:,.0f}–{hi:,.0f})"


def many_table(ix, server, size):
    lines = [
        "| case | tool | command | ok runs | wall median (min) | wall + fsync median (min) | client CPU median (min) | peak RSS MiB median (max) | server CPU median | connections opened | requests | s3blob / s5cmd (medians) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (desc, ref) in MANY_CASES.items():
        for tool in MANY_TOOLS:
            c = ix.get((server, tool, size, case, "default"))
            if not c:
                continue
            n = f"{len(c.ok)}/{len(c.all)}" if c.status == "ok" else c.status
            key = many_key(case)
            ws = (
                f"{fmt_s(c.stat('wallsync_s'))} ({fmt_s(c.stat('wallsync_s', min))})"
                if case.startswith("down")
                else "n/a"
            )
            r = ""
            if tool == "s3blob":
                b = ix.get((server, "s5cmd", size, ref, "default"))
                if b and b.ok and c.ok:
                    r = f"{ratio(c.stat(key), b.stat(many_key(ref))):.2f}x"
                    if ref != case:
                        r += f" (vs s5cmd {ref})"
            lines.append(
                f"| {desc} | {TOOL_LABEL.get(tool, tool)} | `{MANY_CMD.get((case, tool), '')}` | {n} "
                f"| {fmt_s(c.stat('wall_s'))} ({fmt_s(c.stat('wall_s', min))}) | {ws} "
                f"| {fmt_cpu(c.stat('cpu_s'))} ({fmt_cpu(c.stat('cpu_s', min))}) "
                f"| {fmt_mib(c.stat('rss_mib'))} ({fmt_mib(c.stat('rss_mib', max))}) "
                f"| {fmt_cpu(c.stat('server_cpu_s'))} | {fmt_count(c, 'connections')} "
                f"| {fmt_count(c, 'requests')} | {r} |"
            )
    return lines


def many_goals_table(ix, server, goals):
    lines = [
        "| case | goal | s3blob (median / min) | s5cmd (median / min) | ratio of medians | ratio of mins | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, what, case, key, limit, ref in goals:
        label = f"{many_label(ix, size)}: {what}"
        goal = f"≤ {limit}x" if key != "rss_mib" else f"≤ {limit}x (s5cmd's)"
        a = ix.get((server, "s3blob", size, case, "default"))
        b = ix.get((server, "s5cmd", size, ref, "default"))
        if not a or not b or not a.ok or not b.ok:
            why = "not measured" if not a or not b else "failed: " + (a.status if not a.ok else "s5cmd " + b.status)
            lines.append(f"| {label} | {goal} | {why} | | | | |")
            continue
        second = max if key == "rss_mib" else min
        fmt = {"rss_mib": lambda x: f"{fmt_mib(x)} MiB", "cpu_s": fmt_cpu}.get(key, fmt_s)
        am, an = a.stat(key), a.stat(key, second)
        bm, bn = b.stat(key), b.stat(key, second)
        rm, rn = ratio(am, bm), ratio(an, bn)
        met = "yes" if rm <= limit else "**no**"
        lines.append(
            f"| {label} | {goal} | {fmt(am)} / {fmt(an)} | {fmt(bm)} / {fmt(bn)} "
            f"| {rm:.2f}x | {rn:.2f}x | {met} |"
        )
    return lines


MANY_GOALS = {
    "s3-model": [
        ("small", "upload, wall time", "up", "wall_s", 0.8, "up"),
        ("large", "upload, wall time", "up", "wall_s", 0.8, "up"),
        ("small", "download --all, wall time, fsync included", "down", "wallsync_s", 0.8, "down"),
        ("large", "download --all, wall time, fsync included", "down", "wallsync_s", 0.8, "down"),
        ("small", "list with checksums (sealed release) vs s5cmd ls", "list", "wall_s", 2.0, "list"),
        ("large", "list with checksums (sealed release) vs s5cmd ls", "list", "wall_s", 2.0, "list"),
        ("small", "identical re-upload vs s5cmd's first upload, wall time", "reup", "wall_s", 0.5, "up"),
        ("large", "upload, peak RSS (median / max)", "up", "rss_mib", 1.0, "up"),
        ("large", "download --all, peak RSS (median / max)", "down", "rss_mib", 1.0, "down"),
    ],
    "memory": [
        ("small", "upload, wall time", "up", "wall_s", 1.0, "up"),
        ("small", "upload, client CPU seconds", "up", "cpu_s", 1.0, "up"),
        ("small", "download --all, wall time, fsync included", "down", "wallsync_s", 1.0, "down"),
        ("small", "download --all, client CPU seconds", "down", "cpu_s", 1.0, "down"),
        ("large", "upload, peak RSS (median / max)", "up", "rss_mib", 1.0, "up"),
        ("large", "download --all, peak RSS (median / max)", "down", "rss_mib", 1.0, "down"),
    ],
}


def many_section(ix, meta):
    L = ["## Whole releases: many files per command (`bench/run.sh many`)", ""]
    if meta:
        L += ["```", meta, "```", ""]
    L += [
        "s3blob against s5cmd and the AWS CLI on whole releases in a local directory of random",
        "files: a small (default 1,000 x 4 KiB), a large (10,000 x 4 KiB) and a mixed one (1 x",
        "1 GiB + 200 x 64 KiB), on the same two servers, same run, default settings. Per round",
        "and tool: an **upload** to a fresh release (s3blob: every file as an argument, run from",
        "inside the directory), for s3blob the **identical re-upload** right after (same files,",
        "same release: nothing to send), a **download** of the whole release into an empty",
        "directory (*wall + fsync* adds a `sync -f` of the output's file system after the tool",
        "exits: s3blob fsyncs every file itself, the others do not), and a **list** of the release",
        "(s3blob lists files with their checksums; s5cmd `ls` and `aws s3 ls` give names and sizes",
        "only). Every tool downloads and lists the same release, uploaded once per server with",
        "`s3blob upload --seal` (timed once, row *upload --seal*); s5cmd and the AWS CLI also fetch",
        "its manifest object (`.s3blob-manifest.json`, one small object). s3blob also downloads a",
        "release uploaded by s5cmd (no s3blob metadata, not sealed). *Connections opened* and",
        "*requests* are the server's counters (`GET /__s3blob/stats`) after minus before the",
        "command. Every upload is checked by object count and total size (on the first round on",
        "the plain-loopback server, also read back and compared), every download with `diff -r`",
        "against the source, every listing for every file name; a failed check marks the run as",
        "failed, and failed runs are not in the medians.",
        "",
    ]
    for server in SERVERS:
        sizes = [sz for sz in MANY_SETS if any(k[0] == server and k[2] == sz for k in ix)]
        if not sizes:
            continue
        L += [f"### {SERVER_LABEL[server]}", ""]
        L += ["Goals (ratios of medians against s5cmd, same run, same server):", ""]
        L += many_goals_table(ix, server, MANY_GOALS[server])
        L.append("")
        for sz in sizes:
            L += [f"#### {many_label(ix, sz)}", ""]
            L += many_table(ix, server, sz)
            L.append("")
    return L


def main():
    raw, dest = sys.argv[1], sys.argv[2]
    main_rows = load(os.path.join(raw, "main.tsv"))
    sweep_rows = load(os.path.join(raw, "sweep.tsv"))
    ix = index(main_rows)
    six = index(sweep_rows)
    mix = index(load_many(os.path.join(raw, "many.tsv")))
    mmeta = read_text(os.path.join(raw, "many-meta.txt"))
    meta = read_text(os.path.join(raw, "meta.txt"))
    smeta = read_text(os.path.join(raw, "sweep-meta.txt"))
    fsync = read_text(os.path.join(raw, "fsync.txt"))
    profile = read_text(os.path.join(raw, "profile.txt"))
    notes = read_text(os.path.join(raw, "notes.md"))

    L = ["# s3blob benchmark results", ""]
    L += [
        "Generated by `bench/run.sh` (see `bench/README.md`); raw data in `bench/results/`.",
        "Regenerate this file from the raw data with `bench/run.sh report`.",
        "",
        "**Read with care.** The machine has 2 cores and is shared with another engineer who may be",
        "compiling Rust at the same time, so wall times can carry noise (medians and minimums are both",
        "shown; the *other CPU* column says how busy the rest of the machine was). Client CPU",
        "seconds (user+sys of the client process, from `/usr/bin/time`) and peak RSS are the more",
        "robust comparisons. Client and server share the same 2 cores: a client that makes the server",
        "work harder (e.g. by signing its payload, which s3s then verifies with SHA-256) also slows",
        "itself down in wall time; the server CPU column shows that cost. *Other CPU* is what the rest",
        "of the machine used during the command (other processes, kernel write-back threads): where",
        "it is high, that row's wall time is suspect.",
        "",
    ]
    if meta:
        L += ["## Machine, versions, command", "", "```", meta, "```", ""]
    L += [
        "Server: `s3blob-testserver --memory` (s3s 0.14.1 with the in-memory backend in",
        "`testserver/src/mem.rs`: bodies copied once into recycled, pre-touched 1 MiB blocks, no",
        "hashing, no MD5, ETag = counter or the client's Content-MD5). s3s itself still checks every",
        "SigV4 signature, and hashes the body with SHA-256 when a client signs its payload (s5cmd,",
        "aws cli and rclone do on `http://`; s3blob and the curl limit send `UNSIGNED-PAYLOAD`).",
        "With `--s3-model` every TCP connection is held to 90 MB/s in each direction (token bucket)",
        "and every response waits 30 ms before its headers.",
        "",
        "Each measured command runs under `timeout` and `/usr/bin/time -f '%e %U %S %M'`; wall time",
        "is taken around it with bash's `$EPOCHREALTIME` (so it includes the harness overhead above).",
        "`sync` runs (untimed) before every command. For downloads, *wall + fsync* adds the time of a",
        "`sync FILE` run right after the tool exits: the cost of making the file durable, which",
        "s3blob pays inside its own wall time. Every download is compared with `cmp`; every upload",
        "is checked by size (HEAD), and on the first run on the plain-loopback server by reading the",
        "object back and comparing it. Tools run with their default settings, credentials in the",
        "environment, `AWS_EC2_METADATA_DISABLED=true`, no config files, path-style addressing.",
        "Tools run interleaved within each round, and each round starts with the next tool, so what",
        "one command leaves behind (write-back, freed memory) does not always land on the same tool.",
        "Source files are read into the page cache before each size's runs.",
        "",
    ]
    if fsync:
        L += [
            "### Which tools make downloads durable",
            "",
            "System calls seen with `strace -f` during one 64 MiB download:",
            "",
            "| tool | fsync-family calls |",
            "|---|---|",
        ]
        for line in fsync.splitlines():
            if "\t" in line:
                t, c = line.split("\t", 1)
                L.append(f"| {TOOL_LABEL.get(t, t)} | {c} |")
        L.append("")

    L += ["## Goals (ratios against s5cmd, same run, same server)", ""]
    L += [f"### {SERVER_LABEL['memory']}", ""]
    L += goals_table(ix, "memory", [
        ("1 GiB upload, wall time", "1g", "up", "wall_s", 0.3),
        ("1 GiB upload, client CPU seconds", "1g", "up", "cpu_s", 0.25),
        ("1 GiB download, wall time, fsync included", "1g", "down", "wallsync_s", 0.8),
        ("1 GiB download, client CPU seconds", "1g", "down", "cpu_s", 0.7),
        ("1 KiB upload, wall time", "1k", "up", "wall_s", 0.7),
        ("1 KiB download, wall time (fsync included)", "1k", "down", "wallsync_s", 0.7),
    ])
    L += [""]
    L += rss_goal(ix)
    L += ["", f"### {SERVER_LABEL['s3-model']}", ""]
    L += goals_table(ix, "s3-model", [
        ("1 GiB upload, wall time", "1g", "up", "wall_s", 0.55),
        ("1 GiB download, wall time (fsync included)", "1g", "down", "wallsync_s", 0.35),
        ("1 KiB upload, wall time", "1k", "up", "wall_s", 1.0),
        ("1 KiB download, wall time (fsync included)", "1k", "down", "wallsync_s", 1.0),
    ])
    model_rss = [
        (d, ix[("s3-model", "s3blob", "1g", d, "default")].stat("rss_mib", max))
        for d in ("up", "down")
        if ("s3-model", "s3blob", "1g", d, "default") in ix
        and ix[("s3-model", "s3blob", "1g", d, "default")].ok
    ]
    if model_rss:
        L += [
            "",
            "s3blob peak RSS under the model, 1 GiB (max over runs): "
            + ", ".join(f"{'upload' if d == 'up' else 'download'} {v:.1f} MiB" for d, v in model_rss)
            + " (the RSS goal is checked on the plain-loopback server above).",
        ]
    tuned_up = ix.get(("s3-model", "s5cmd-tuned", "1g", "up", "default"))
    tuned_dn = ix.get(("s3-model", "s5cmd-tuned", "1g", "down", "default"))
    mine_up = ix.get(("s3-model", "s3blob", "1g", "up", "default"))
    mine_dn = ix.get(("s3-model", "s3blob", "1g", "down", "default"))
    if tuned_up and tuned_up.ok and mine_up and mine_up.ok:
        L += [
            "",
            f"For reference, hand-tuned s5cmd (`cp -c 20 -p 8`) under the model: upload "
            f"{fmt_s(tuned_up.stat('wall_s'))} (s3blob {fmt_s(mine_up.stat('wall_s'))}, "
            f"{ratio(mine_up.stat('wall_s'), tuned_up.stat('wall_s')):.2f}x), download + fsync "
            f"{fmt_s(tuned_dn.stat('wallsync_s')) if tuned_dn else '-'} (s3blob "
            f"{fmt_s(mine_dn.stat('wallsync_s')) if mine_dn else '-'}).",
        ]
    L.append("")

    for server in SERVERS:
        if not any(k[0] == server for k in ix):
            continue
        L += [f"## All measurements: {SERVER_LABEL[server]}", ""]
        L += detail_table(ix, server, SIZES)
        L.append("")

    if mix:
        L += many_section(mix, mmeta)

    if six:
        L += ["## Sweep: s3blob `--part-size` x `--concurrency`, 1 GiB", ""]
        if smeta:
            L += ["```", smeta, "```", ""]
        L += [
            "Bold: the fastest median per column. CPU is the client's (median); RSS the maximum.",
            "",
        ]
        L += sweep_tables(six)

    if profile:
        L += ["## Profile of s3blob (1 GiB, plain-loopback server)", "", "```", profile, "```", ""]

    if notes:
        L += [notes, ""]

    text = "\n".join(L) + "\n"
    if dest == "-":
        sys.stdout.write(text)
    else:
        with open(dest, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
