//! Which certificate authorities HTTPS trusts, for S3 and for the credential providers alike:
//! the system's roots, or a PEM bundle from `--ca-bundle`, `AWS_CA_BUNDLE` or the profile's
//! `ca_bundle` (first one set wins). A bundle *replaces* the system's roots, as in the AWS CLI:
//! a private store's CA is then the only one trusted, which is what pinning a private CA means.
//!
//! The bundle is read and checked here, once, before any client exists: the SDK's TLS layer
//! would otherwise parse it on the first connection and panic on a malformed file.

use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::Error;

/// A CA bundle to trust instead of the system's roots, and where the setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub path: PathBuf,
    /// How messages name the setting: `--ca-bundle`, `AWS_CA_BUNDLE=... (set in .env)`, ...
    pub origin: String,
}

/// What HTTPS connections trust: the TLS context for the client (`None`: the system's roots),
/// and its description for error messages.
pub struct Trust {
    pub context: Option<TlsContext>,
    pub described: String,
}

/// The bundle given by flag or variable, else the profile's `ca_bundle`, loaded and checked.
pub async fn load(given: Option<&CaBundle>, profile: Option<&str>) -> Result<Trust, Error> {
    let bundle = match given {
        Some(bundle) => Some(bundle.clone()),
        None => from_profile(profile).await,
    };
    let Some(bundle) = bundle else {
        return Ok(Trust {
            context: None,
            described: "the system's root certificates".to_owned(),
        });
    };
    let bytes = std::fs::read(&bundle.path).map_err(|e| {
        Error::local_io("read the CA bundle", &bundle.path, &e).reworded(|m| {
            format!(
                "{m} ({}); give the PEM file of the certificate authorities to trust",
                bundle.origin
            )
        })
    })?;
    let store = trust_store(&bytes).map_err(|why| {
        Error::Usage(format!(
            "{}: {} {why}; give a PEM file of -----BEGIN CERTIFICATE----- blocks",
            bundle.origin,
            bundle.path.display()
        ))
    })?;
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| Error::Other(format!("cannot set up TLS with {}: {e}", bundle.origin)))?;
    tracing::debug!(bundle = %bundle.path.display(), origin = %bundle.origin, "CA bundle");
    Ok(Trust {
        context: Some(context),
        described: format!(
            "only the certificates in {} ({})",
            bundle.path.display(),
            bundle.origin
        ),
    })
}

/// The profile's `ca_bundle`, if the AWS config files set one for the profile in effect. A
/// config file that cannot be read or parsed is left to the credential chain to report.
async fn from_profile(profile: Option<&str>) -> Option<CaBundle> {
    use aws_runtime::env_config::file::EnvConfigFiles;
    use aws_types::os_shim_internal::{Env, Fs};

    let set = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &EnvConfigFiles::default(),
        profile.map(|p| std::borrow::Cow::Owned(p.to_owned())),
    )
    .await
    .inspect_err(|e| tracing::debug!("AWS config files not read for ca_bundle: {e}"))
    .ok()?;
    let value = set.get("ca_bundle")?.trim();
    if value.is_empty() {
        return None;
    }
    Some(CaBundle {
        path: expand_home(value),
        origin: format!("ca_bundle of profile {:?}", set.selected_profile()),
    })
}

/// `~/x` is relative to the home directory, as the AWS CLI reads it.
fn expand_home(value: &str) -> PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(value),
    }
}

/// The certificates of a PEM bundle that can anchor trust, as the trust store the SDK takes.
/// Other PEM sections (a key, say) are skipped, as are certificates that cannot be trust
/// anchors (logged); a file with none left, or that is not PEM, is refused.
fn trust_store(pem: &[u8]) -> Result<TrustStore, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not a PEM file ({e})"))?;
    let mut store = TrustStore::empty();
    let (mut kept, mut skipped) = (0usize, 0usize);
    for cert in certs {
        // The SDK adds each certificate with `RootCertStore::add` and panics if one fails.
        if rustls::RootCertStore::empty().add(cert.clone()).is_err() {
            skipped += 1;
            continue;
        }
        store.add_pem_certificate(pem_of(&cert));
        kept += 1;
    }
    if skipped > 0 {
        tracing::debug!("CA bundle: {skipped} certificate(s) skipped: not usable as trust anchors");
    }
    match (kept, skipped) {
        (0, 0) => Err("holds no certificate".to_owned()),
        (0, _) => Err(format!(
            "holds {skipped} certificate(s), none usable as a certificate authority"
        )),
        _ => Ok(store),
    }
}

/// One certificate as a PEM block (what the SDK's trust store takes).
fn pem_of(cert: &CertificateDer<'_>) -> Vec<u8> {
    let b64 = aws_smithy_types::base64::encode(cert.as_ref());
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_pem_and_empty_files_are_refused() {
        assert!(trust_store(b"").unwrap_err().contains("no certificate"));
        assert!(
            trust_store(b"hello\n")
                .unwrap_err()
                .contains("no certificate")
        );
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(trust_store(broken).unwrap_err().contains("not a PEM file"));
    }

    #[test]
    fn a_certificate_that_is_not_one_is_refused_not_a_panic() {
        // Valid PEM, valid base64, but not a certificate.
        let pem = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        assert!(trust_store(pem).unwrap_err().contains("none usable"));
    }

    #[test]
    fn pem_blocks_round_trip() {
        let der = CertificateDer::from((0u8..=200).collect::<Vec<u8>>());
        let back: Vec<_> = CertificateDer::pem_slice_iter(&pem_of(&der))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, vec![der]);
    }

    #[test]
    fn home_is_expanded() {
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(expand_home("~/ca.pem"), Path::new(&home).join("ca.pem"));
        }
        assert_eq!(expand_home("/etc/ca.pem"), PathBuf::from("/etc/ca.pem"));
    }
}
