//! `s3blob-testserver`: a local S3-compatible server for the demo and benchmarks.
//!
//! Prints `http://127.0.0.1:PORT` on stdout once it listens. Credentials from
//! AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. `GET /__s3blob/stats` answers connection and
//! request counts for benchmarks.

use std::path::PathBuf;
use std::time::Duration;

use s3blob_testserver::{Memory, NetModel, Strict, serve_backend};

const USAGE: &str = "\
usage: s3blob-testserver [OPTIONS] [ROOT] [PORT]

Serves S3 on 127.0.0.1 and prints http://127.0.0.1:PORT on stdout once it listens.
Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.

  ROOT                 directory served by s3s-fs, one subdirectory per bucket
                       (required unless --memory)
  PORT                 port to bind (default 0: any free port); same as --port

options:
  --memory             keep objects in memory (the fast backend of benchmarks: bodies
                       not hashed, checksums stored but not verified); every command of
                       s3blob works on it, promote's server-side copies included
  --s3-model           S3-like network: 90 MB/s per connection and direction, 30 ms before
                       every response (same as --bandwidth 90000000 --latency-ms 30)
  --bandwidth BYTES    cap each connection at BYTES per second in each direction
  --latency-ms MS      delay every response's headers by MS milliseconds
  --port N             port to bind
  --bucket NAME        create bucket NAME at start (repeatable)
  --prealloc-mib N     with --memory: touch N MiB of object memory at start, so the first
                       uploads measured do not pay the kernel's page faults
  --threads N          server worker threads (default: number of CPUs)
  -h, --help           this text

counters (for benchmarks): GET /__s3blob/stats, without authentication and without the
--s3-model/--latency-ms delay, answers {\"connections\": N, \"requests\": M, \"accepted\": A,
\"received\": B}:
  connections          TCP connections accepted so far, not counting those that asked
                       for the stats (so a reader opening a fresh connection before and
                       after a command, e.g. curl, sees the command's own connections as
                       the difference)
  requests             HTTP requests passed to S3 so far (the stats requests left out)
  accepted             every TCP connection accepted, stats readers included
  received             bytes read from connections under --bandwidth (0 without it)";

struct Opts {
    root: Option<PathBuf>,
    port: u16,
    memory: bool,
    model: NetModel,
    buckets: Vec<String>,
    threads: Option<usize>,
    prealloc_mib: u64,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Opts, String> {
    let mut o = Opts {
        root: None,
        port: 0,
        memory: false,
        model: NetModel::NONE,
        buckets: Vec::new(),
        threads: None,
        prealloc_mib: 0,
    };
    let mut positional = Vec::new();
    let mut bandwidth = None;
    let mut latency = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--memory" => o.memory = true,
            "--s3-model" => o.model = NetModel::S3,
            "--bandwidth" => {
                let v = value("--bandwidth")?;
                bandwidth = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("bad --bandwidth {v:?}"))?,
                );
            }
            "--latency-ms" => {
                let v = value("--latency-ms")?;
                latency = Some(Duration::from_millis(
                    v.parse().map_err(|_| format!("bad --latency-ms {v:?}"))?,
                ));
            }
            "--port" => {
                let v = value("--port")?;
                o.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--bucket" => o.buckets.push(value("--bucket")?),
            "--prealloc-mib" => {
                let v = value("--prealloc-mib")?;
                o.prealloc_mib = v.parse().map_err(|_| format!("bad --prealloc-mib {v:?}"))?;
            }
            "--threads" => {
                let v = value("--threads")?;
                o.threads = Some(v.parse().map_err(|_| format!("bad --threads {v:?}"))?);
            }
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => positional.push(a),
        }
    }
    if let Some(b) = bandwidth {
        o.model.bandwidth = (b > 0).then_some(b);
    }
    if let Some(l) = latency {
        o.model.latency = l;
    }
    let mut positional = positional.into_iter();
    // `ROOT [PORT]`, or with --memory just `[PORT]` is accepted too.
    match (positional.next(), positional.next(), positional.next()) {
        (None, _, _) => {}
        (Some(x), None, None) if o.memory && x.parse::<u16>().is_ok() => {
            o.port = x.parse().unwrap_or(0);
        }
        (Some(root), port, None) => {
            o.root = Some(root.into());
            if let Some(p) = port {
                o.port = p
                    .parse()
                    .map_err(|_| format!("PORT must be a number, not {p:?}"))?;
            }
        }
        _ => return Err("too many arguments".into()),
    }
    if !o.memory && o.root.is_none() {
        return Err("ROOT is required without --memory".into());
    }
    Ok(o)
}

fn main() {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("s3blob-testserver: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let (Ok(ak), Ok(sk)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        eprintln!(
            "s3blob-testserver: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the credentials clients must sign with)"
        );
        std::process::exit(2);
    };

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = opts.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build().expect("tokio runtime");
    let result: std::io::Result<()> = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let announce = || {
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "http://{addr}");
            let _ = out.flush();
        };
        if opts.memory {
            let mem = Memory::new();
            mem.prealloc(opts.prealloc_mib << 20);
            for b in &opts.buckets {
                mem.create_bucket_now(b);
            }
            announce();
            serve_backend(listener, mem, &ak, &sk, opts.model).await
        } else {
            let root = opts.root.expect("checked in parse");
            for b in &opts.buckets {
                std::fs::create_dir_all(root.join(b))?;
            }
            let fs = Strict::new(root)?;
            announce();
            serve_backend(listener, fs, &ak, &sk, opts.model).await
        }
    });
    if let Err(e) = result {
        eprintln!("s3blob-testserver: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, String> {
        parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn legacy_root_and_port() {
        let o = p(&["/tmp/x", "9000"]).unwrap();
        assert_eq!(o.root, Some(PathBuf::from("/tmp/x")));
        assert_eq!(o.port, 9000);
        assert!(!o.memory);
        assert_eq!(o.model, NetModel::NONE);
        assert!(p(&[]).is_err());
    }

    #[test]
    fn memory_and_model() {
        let o = p(&["--memory", "--s3-model", "--port", "1234", "--bucket", "b1"]).unwrap();
        assert!(o.memory && o.root.is_none());
        assert_eq!(o.port, 1234);
        assert_eq!(o.model, NetModel::S3);
        assert_eq!(o.buckets, ["b1"]);
        let o = p(&[
            "--memory",
            "--bandwidth",
            "1000",
            "--latency-ms",
            "5",
            "8080",
        ])
        .unwrap();
        assert_eq!(o.model.bandwidth, Some(1000));
        assert_eq!(o.model.latency, Duration::from_millis(5));
        assert_eq!(o.port, 8080);
        assert!(p(&["--memory", "--bogus"]).is_err());
    }
}
