//! `s3blob-testserver`: a local S3-compatible server for the demo and benchmarks.
//!
//! Usage: s3blob-testserver ROOT [PORT] (credentials from AWS_ACCESS_KEY_ID and
//! AWS_SECRET_ACCESS_KEY). Prints `http://127.0.0.1:PORT` on stdout once it listens.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: s3blob-testserver ROOT [PORT]");
        std::process::exit(2);
    };
    let port: u16 = args
        .next()
        .map_or(0, |p| p.parse().expect("PORT must be a number"));
    let ak = std::env::var("AWS_ACCESS_KEY_ID").expect("set AWS_ACCESS_KEY_ID");
    let sk = std::env::var("AWS_SECRET_ACCESS_KEY").expect("set AWS_SECRET_ACCESS_KEY");
    let addr = s3blob_testserver::spawn(root.into(), port, &ak, &sk);
    println!("http://{addr}");
    loop {
        std::thread::park();
    }
}
