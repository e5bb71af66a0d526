use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use s3blob::cli::Cli;
use s3blob::error::code;
use s3blob::shutdown::Shutdown;

fn main() -> ExitCode {
    // Before any thread exists: it may set variables.
    if let Err(err) = s3blob::config::load_dotenv() {
        eprintln!("s3blob: error: {err}");
        return ExitCode::from(err.exit_code());
    }
    let cli = Cli::parse();
    s3blob::logging::init(cli.global.verbose, cli.global.quiet);
    let json = cli.global.json;

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("s3blob: error: cannot start the async runtime: {err}");
            return ExitCode::from(code::OTHER);
        }
    };
    let result = runtime.block_on(async {
        let shutdown = Shutdown::default();
        if let Err(err) = shutdown.listen_for_signals() {
            tracing::warn!("cannot listen for signals: {err}");
        }
        s3blob::run(cli, shutdown, &mut std::io::stdout()).await
    });
    // Do not wait for checksum threads of an interrupted upload.
    runtime.shutdown_background();

    match result {
        Ok(report) => {
            let summary = report.summary();
            if !summary.is_empty() {
                tracing::info!("{summary}");
            }
            let printed = match report.render(json) {
                None => Ok(()),
                Some(text) => {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{text}").and_then(|()| out.flush())
                }
            };
            match printed {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => {
                    eprintln!("s3blob: error: cannot write to stdout: {e}");
                    return ExitCode::from(code::OTHER);
                }
            }
            let failures = report.failures();
            for f in &failures {
                eprintln!("s3blob: error: {}", f.error);
            }
            if !failures.is_empty() {
                let names: Vec<&str> = failures.iter().map(|f| f.file.as_str()).collect();
                eprintln!(
                    "s3blob: error: {} of the files failed: {}",
                    failures.len(),
                    names.join(", ")
                );
            }
            ExitCode::from(report.exit_code())
        }
        Err(err) => {
            eprintln!("s3blob: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
