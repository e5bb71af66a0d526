use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use s3blob::cli::Cli;
use s3blob::environment::{self, Environment};
use s3blob::error::{Error, code};
use s3blob::shutdown::Shutdown;
use s3blob::{Ci, CiOutput, Section};

fn main() -> ExitCode {
    s3blob::platform::init_allocator();
    s3blob::platform::raise_open_file_limit();
    let mut ci = None;
    match run(&mut ci) {
        Ok(code) => code,
        Err(err) => {
            // Messages carry what servers sent (keys, error texts): shown, never obeyed.
            let message = format!("{err:#}");
            eprintln!("s3blob: error: {}", s3blob::escape::escape(&message));
            if let Some(ci) = &ci {
                ci.error(&message);
            }
            // The library's errors carry their kind (and so their exit code) through any
            // context added here; anything else is "other".
            ExitCode::from(
                err.downcast_ref::<Error>()
                    .map_or(code::OTHER, Error::exit_code),
            )
        }
    }
}

/// `ci` is filled in as soon as the CI output is known, for `main` to annotate an error.
fn run(ci: &mut Option<CiOutput>) -> anyhow::Result<ExitCode> {
    // Parsing reads no variable a .env could set (clap takes nothing from the environment
    // here), so it comes first: the environment is then prepared with what the flags say
    // (--env-file, --profile), still on this one thread.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Ok(argument_error(&e)),
    };
    let (env, notes) = prepare_environment(&cli.global)?;
    s3blob::platform::limit_malloc_arenas(malloc_arenas(&cli.command));
    let which = Ci::resolve(cli.global.ci_output, &env)?;
    s3blob::logging::init(
        cli.global.verbose,
        cli.global.quiet,
        which == Ci::Github,
        &env,
    )?;
    let ci = ci.insert(CiOutput::new(which, &cli));
    // A GitLab section holds the command's log; it ends before the result and any error.
    let section = (which == Ci::Gitlab).then(|| Section::start(ci.command));
    for note in notes {
        match note {
            environment::Note::Warn(text) => tracing::warn!("{text}"),
            environment::Note::Info(text) => tracing::info!("{text}"),
            environment::Note::Debug(text) => tracing::debug!("{text}"),
        }
    }
    if let Some(tuning) = tuning_of(&cli.command) {
        for line in s3blob::config::origins(&cli.global, tuning, &env) {
            tracing::debug!("setting {line}");
        }
    }
    let json = cli.global.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = Shutdown::default();
        if let Err(err) = shutdown.listen_for_signals() {
            tracing::warn!("cannot listen for signals: {err}");
        }
        s3blob::run(cli, &env, shutdown, &mut std::io::stdout()).await
    });
    // Do not wait for checksum threads of an interrupted upload.
    runtime.shutdown_background();
    drop(section);
    let report = result?;

    let summary = report.summary();
    if !summary.is_empty() {
        tracing::info!("{summary}");
    }
    if let Some(text) = report.render(json) {
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.context("cannot write to stdout")?,
        }
    }
    for line in report.failure_lines() {
        eprintln!("s3blob: error: {}", s3blob::escape::escape(&line));
    }
    ci.finish(&report, &env);
    Ok(ExitCode::from(report.exit_code()))
}

/// Prints a command-line error as s3blob's one line (and the usage line), exit 2; help and
/// the version are printed as clap prints them.
fn argument_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(code::USAGE));
    }
    let command = <Cli as clap::CommandFactory>::command();
    let subcommand = std::env::args().find(|a| a != "help" && command.find_subcommand(a).is_some());
    let (message, usage) =
        s3blob::cli::argument_error(&e.render().to_string(), subcommand.as_deref());
    eprintln!("s3blob: error: {message}");
    if let Some(usage) = usage {
        eprintln!("{usage}");
    }
    ExitCode::from(code::USAGE)
}

/// Reads the `.env` file (`./.env`, or the one `--env-file` or `S3BLOB_ENV_FILE` names; none
/// under CI unless named) and applies what [`environment::prepare`] decides to the process
/// environment: the file fills in unset plain settings, blank variables are removed (aws-config
/// would parse them, and panic on some). Runs in `main` before any thread starts: changing the
/// environment is only sound while no other thread can read it.
#[allow(unsafe_code)]
fn prepare_environment(
    global: &s3blob::cli::GlobalArgs,
) -> Result<(Environment, Vec<environment::Note>), Error> {
    let real: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let lookup = |name: &str| {
        real.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let choice = environment::choose(
        global.env_file.as_deref(),
        lookup("S3BLOB_ENV_FILE"),
        lookup("CI"),
    );
    let dotenv = environment::read(&choice)?;
    let prepared = environment::prepare(real, dotenv, global.profile.is_some());
    for name in &prepared.remove {
        // SAFETY: single-threaded (see above); no reference into the environment is held.
        unsafe { std::env::remove_var(name) };
    }
    for (name, value) in &prepared.set {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    Ok((prepared.env, prepared.notes))
}

/// The transfer flags of a command that connects to the store (for the settings block of
/// `-v`); `None` for those that do not (`completions`, `man`).
fn tuning_of(command: &s3blob::cli::Command) -> Option<s3blob::config::Tuning> {
    use s3blob::cli::Command as C;
    use s3blob::config::Tuning;
    Some(match command {
        C::Upload(a) => Tuning::from(&a.tuning),
        C::Download(a) => Tuning::from(&a.tuning),
        C::Verify(a) => Tuning::from(&a.tuning),
        C::Promote(a) => Tuning::from(&a.tuning),
        C::Completions(_) | C::Man(_) => return None,
        _ => Tuning::default(),
    })
}

/// How many malloc arenas the command gets: one for a single transfer, a few for a batch.
///
/// By default glibc gives each thread that allocates concurrently its own arena, up to 8 per
/// core. A single large transfer reads the file in 256 KiB buffers on tokio's blocking threads
/// while hyper reads bodies into ~408 KiB buffers on the workers; freed, they stay in whichever
/// arena they came from, and those arenas fragment as more parts go by, so peak RSS grew with
/// the file (4 GiB upload +2.5 MiB over 1 GiB). With one arena the freed buffers are reused by
/// whichever thread asks next: 4 GiB peaks about 1 MiB above 1 GiB, at no cost in CPU (bench
/// notes, "one malloc arena"). Pinning the mmap threshold instead made every buffer an `mmap`
/// and page faults: about +50 % CPU.
///
/// A batch is the opposite case: hundreds of small requests in flight, each allocating and
/// freeing many small blocks on every thread, and one arena's lock becomes the bottleneck (a
/// profile of 1,000 x 4 KiB uploaded under the S3-like model spent a quarter of its samples
/// waking and waiting on it). Four arenas: 0.445 s → 0.355 s wall, 0.44 → 0.34 s CPU, peak
/// RSS +3 MiB. So commands that move many objects get four.
fn malloc_arenas(command: &s3blob::cli::Command) -> i32 {
    use s3blob::cli::Command as C;
    match command {
        C::Upload(a) if a.paths.len() > 1 => 4,
        C::Download(a) if a.all || a.filename.len() > 1 => 4,
        C::Seal(_) | C::Verify(_) | C::Promote(_) | C::Prune(_) => 4,
        C::Delete(a) if a.all => 4,
        _ => 1,
    }
}
