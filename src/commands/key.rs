//! `s3blob key generate`, and where a command's keys come from: the signing key
//! (`--sign-key FILE`, else `S3BLOB_SIGN_KEY` holding the key's text, its password in
//! `S3BLOB_SIGN_KEY_PASSWORD`) and the trusted keys (`--trusted-key`, else
//! `S3BLOB_TRUSTED_KEYS`). A `.env` file can set none of these (see `environment::dotenv`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{KeyAction, KeyCommandArgs, SignArgs};
use crate::commands::Context;
use crate::error::Error;
use crate::output::{Outcome, Text};
use crate::signature::{self, PASSWORD_VARIABLE, SigningKey, TrustedKey};

pub const SIGN_KEY_VARIABLE: &str = "S3BLOB_SIGN_KEY";
pub const TRUSTED_KEYS_VARIABLE: &str = "S3BLOB_TRUSTED_KEYS";

pub async fn run(cx: &Context<'_>, args: KeyCommandArgs) -> Result<Outcome, Error> {
    match args.action {
        KeyAction::Generate(g) => generate(cx, &g.out, g.no_password),
    }
}

fn generate(cx: &Context<'_>, out: &Path, no_password: bool) -> Result<Outcome, Error> {
    let password = cx.env.get(PASSWORD_VARIABLE);
    if !no_password && password.is_none() {
        return Err(Error::Usage(format!(
            "key generate: set {PASSWORD_VARIABLE} to the password that encrypts the secret key, or pass --no-password for an unencrypted key"
        )));
    }
    let password = if no_password { None } else { password };
    let with = |ext: &str| {
        let mut p = out.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let (key_path, pub_path) = (with(".key"), with(".pub"));
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(Error::AlreadyExists(format!(
                "{} exists; key generate never overwrites a key: choose another --out, or move it away",
                p.display()
            )));
        }
    }
    let (secret, public, id) = signature::generate(password)?;
    write_new(&key_path, &secret, true)?;
    if let Err(e) = write_new(&pub_path, &public, false) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    tracing::info!(
        "key {id}: secret key in {} ({}), public key in {}",
        key_path.display(),
        if password.is_some() {
            "encrypted"
        } else {
            "NOT encrypted"
        },
        pub_path.display()
    );
    let line = public.lines().nth(1).unwrap_or_default().trim().to_owned();
    Ok(Box::new(Text(line)))
}

/// Creates `path` (never replacing a file), private to its owner when `secret`.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    crate::platform::creation_mode(&mut options, secret);
    let mut file = options
        .open(path)
        .map_err(|e| Error::local_io("create", path, &e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::local_io("write", path, &e))
}

/// The key this command signs with: `--sign-key FILE`, else `S3BLOB_SIGN_KEY`; `None` when
/// neither is given. Its text is masked in every later log line.
pub fn signing_key(cx: &Context<'_>, args: &SignArgs) -> Result<Option<Arc<SigningKey>>, Error> {
    let (text, source) = match &args.sign_key {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| Error::local_io("read the signing key", path, &e))?,
            format!("--sign-key {}", path.display()),
        ),
        None => match cx.env.get(SIGN_KEY_VARIABLE) {
            Some(text) => (text.to_owned(), SIGN_KEY_VARIABLE.to_owned()),
            None => return Ok(None),
        },
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with("untrusted comment:"))
    {
        crate::logging::remember_secret(line.trim());
    }
    let password = cx.env.get(PASSWORD_VARIABLE);
    if let Some(p) = password {
        crate::logging::remember_secret(p);
    }
    SigningKey::parse(&text, password, &source).map(|k| Some(Arc::new(k)))
}

/// The keys a release must be signed by: every `--trusted-key`, else `S3BLOB_TRUSTED_KEYS`
/// (comma separated). Each is a public key line (`RW...`) or a `.pub` file.
pub fn trusted_keys(cx: &Context<'_>) -> Result<Vec<TrustedKey>, Error> {
    let (values, source): (Vec<String>, &str) = if cx.global.trusted_keys.is_empty() {
        match cx.env.get(TRUSTED_KEYS_VARIABLE) {
            Some(v) => (
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                TRUSTED_KEYS_VARIABLE,
            ),
            None => return Ok(Vec::new()),
        }
    } else {
        (cx.global.trusted_keys.clone(), "--trusted-key")
    };
    values.iter().map(|v| trusted_key(v, source)).collect()
}

fn trusted_key(value: &str, source: &str) -> Result<TrustedKey, Error> {
    let v = value.trim();
    // A key line is 56 base64 characters starting `RW`; anything else is a file.
    if v.starts_with("RW") && v.len() == 56 && !Path::new(v).exists() {
        return TrustedKey::parse(v, &format!("{source} {v}"));
    }
    let path = Path::new(v);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::local_io(&format!("read the public key ({source}) from"), path, &e))?;
    TrustedKey::parse(&text, &format!("{source} {}", path.display()))
}
