//! One module per subcommand: each turns its flags into calls on the engine and a [`Report`].

pub mod delete;
pub mod doctor;
pub mod download;
pub mod key;
pub mod list;
pub mod presign;
pub mod promote;
pub mod prune;
pub mod seal;
pub mod stat;
pub mod upload;
pub mod uploads;
pub mod verify;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use aws_sdk_s3::Client;
use clap::CommandFactory;
use tracing::Instrument;

use crate::cli::{Cli, Command, GlobalArgs, ProgressMode};
use crate::config::{self, Settings, Tuning};
use crate::environment::Environment;
use crate::error::Error;
use crate::key::{ObjectKey, ReleaseRef};
use crate::output::{Outcome, Text};
use crate::progress::{Bar, LogLines, Quiet, SharedProgress};
use crate::s3;
use crate::shutdown::Shutdown;
use crate::transfer::budget::Budget;

/// What every command runs with besides its own flags: the global flags, the environment it
/// was started in (`.env` merged in), and the shutdown signal.
pub struct Context<'a> {
    pub global: &'a GlobalArgs,
    pub env: &'a Environment,
    pub shutdown: &'a Shutdown,
}

/// Runs one command to its report; the caller prints it and maps errors to exit codes.
/// Commands that stream their output (`list`) write it to `out` as they go.
pub async fn run(
    cli: Cli,
    env: &Environment,
    shutdown: Shutdown,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    let cx = Context {
        global: &cli.global,
        env,
        shutdown: &shutdown,
    };
    // With -v every line the command logs (its tasks' too) carries the command's name, each
    // file of a batch its file, each part or range its number: lines of files moving at once
    // can be told apart. At the default level the spans are off and lines are bare.
    let span = tracing::debug_span!("s3blob", command = cli.command.name());
    let report = run_command(cli.command, &cx, out).instrument(span).await?;
    match cli.global.summary_links {
        Some(expires) => presign::summary_links(&cx, report, expires).await,
        None => Ok(report),
    }
}

async fn run_command(
    command: Command,
    cx: &Context<'_>,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    match command {
        Command::Upload(args) => upload::run(cx, args).await,
        Command::Download(args) => download::run(cx, args).await,
        Command::List(args) => list::run(cx, args, out).await,
        Command::Stat(args) => stat::run(cx, args).await,
        Command::Delete(args) => delete::run(cx, args).await,
        Command::Prune(args) => prune::run(cx, args).await,
        Command::Uploads(args) => uploads::run(cx, args).await,
        Command::Promote(args) => promote::run(cx, args).await,
        Command::Presign(args) => presign::run(cx, args).await,
        Command::Seal(args) => seal::run(cx, args).await,
        Command::Verify(args) => verify::run(cx, args).await,
        Command::Doctor => doctor::run(cx).await,
        Command::Key(args) => key::run(cx, args).await,
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "s3blob", &mut script);
            Ok(Box::new(Text(
                String::from_utf8_lossy(&script).into_owned(),
            )))
        }
        Command::Man(args) => man(args.dir.as_deref()),
    }
}

/// The s3blob(1) page on stdout, or with `dir` every page (s3blob.1 and one per subcommand,
/// which s3blob(1) refers to) written there, and their paths printed.
fn man(dir: Option<&std::path::Path>) -> Result<Outcome, Error> {
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .map_err(|e| Error::Other(format!("cannot render the man page: {e}")))?;
        return Ok(Box::new(Text(String::from_utf8_lossy(&page).into_owned())));
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::local_io("create the directory", dir, &e))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    let mut written = Vec::new();
    for page in pages {
        let path = clap_mangen::Man::new(page)
            .generate_to(dir)
            .map_err(|e| Error::local_io("write a man page into", dir, &e))?;
        written.push(path.display().to_string());
    }
    Ok(Box::new(Text(written.join("\n"))))
}

/// Settings from flags and environment, and the client built from them.
async fn connect(cx: &Context<'_>, tuning: Tuning) -> Result<(Settings, Client), Error> {
    let settings = config::resolve(cx.global, tuning, cx.env)?;
    let client = s3::client(&settings.client).await?;
    Ok((settings, client))
}

/// Settings, the client, and the release `key` names, with `latest` resolved to the suite's
/// highest sealed release (one listing and a few HEADs; none for any other name).
async fn connect_to_release(
    cx: &Context<'_>,
    tuning: Tuning,
    key: &crate::cli::KeyArgs,
) -> Result<(Settings, Client, ReleaseRef), Error> {
    let asked = ReleaseRef::new(&key.suite, &key.release)?;
    let keys = self::key::trusted_keys(cx)?;
    let (settings, client) = connect(cx, tuning).await?;
    let concurrency = settings.transfer.concurrency;
    let release =
        crate::release::signed::resolve(&client, &settings.bucket, &asked, concurrency, &keys)
            .await?;
    Ok((settings, client, release))
}

/// Settings, the client, and the key of the one artifact `o` names, with `--release latest`
/// resolved to the suite's highest sealed release (with trusted `keys`, the highest signed by
/// one of them).
async fn connect_to_object(
    cx: &Context<'_>,
    o: &crate::cli::ObjectArgs,
    keys: &[crate::signature::TrustedKey],
) -> Result<(Settings, Client, ObjectKey), Error> {
    let key = ObjectKey::new(&o.key.suite, &o.key.release, &o.filename)?;
    let (settings, client) = connect(cx, Tuning::default()).await?;
    if o.key.release != crate::release::LATEST {
        return Ok((settings, client, key));
    }
    let asked = ReleaseRef::new(&o.key.suite, &o.key.release)?;
    let release = crate::release::signed::resolve(
        &client,
        &settings.bucket,
        &asked,
        crate::config::DEFAULT_CONCURRENCY,
        keys,
    )
    .await?;
    let key = release.key(&o.filename)?;
    Ok((settings, client, key))
}

/// The progress display `--progress` asks for: a bar on stderr when a person is watching (or
/// when forced); in a log (stderr not a terminal, as in CI), a line every `--progress-interval`
/// so a long transfer never leaves the log silent; nothing with `--progress never` or `-q`.
fn progress_for(
    cx: &Context<'_>,
    settings: &Settings,
    label: &str,
    budget: &Budget,
) -> SharedProgress {
    let global = cx.global;
    match global.progress {
        ProgressMode::Always => Arc::new(Bar::new(label, true)),
        ProgressMode::Never => Arc::new(Quiet),
        ProgressMode::Auto if global.quiet => Arc::new(Quiet),
        ProgressMode::Auto if std::io::stderr().is_terminal() => Arc::new(Bar::new(label, false)),
        ProgressMode::Auto => {
            let budget = budget.clone();
            Arc::new(
                LogLines::new(label, settings.progress_interval)
                    .counting_requests(move || budget.in_flight()),
            )
        }
    }
}
