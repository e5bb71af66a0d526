//! Release signatures in the minisign format (Ed25519; secret keys optionally scrypt-encrypted),
//! so keys and signatures interoperate with the `minisign` and `rsign2` tools.
//!
//! A signed release has `SUITE/RELEASE/.s3blob-manifest.json.minisig` beside its manifest: a
//! signature of the manifest's stored bytes whose trusted comment names the suite, the release
//! and the seal id ([`release_comment`]). The manifest lists every file's size and checksums, so
//! one signature covers the release; the trusted comment is signed too, so a signed manifest
//! copied under another release name is refused.
//!
//! This module is pure: it parses keys from text it is given (never a file, never a prompt:
//! an encrypted key without a password is a usage error naming the variable to set), signs and
//! checks bytes, and words the verdicts. Secret keys never appear in a message or a `Debug`.

use std::fmt;
use std::io::Cursor;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

use crate::error::Error;

/// The variable holding the password of an encrypted secret key.
pub const PASSWORD_VARIABLE: &str = "S3BLOB_SIGN_KEY_PASSWORD";

/// How a refusal ends (a warning that passes over a release leaves it out).
pub const REFUSED: &str = ". Refused: nothing was written";

/// The untrusted comment of the signatures s3blob writes (minisign shows it; nothing checks it).
const UNTRUSTED_COMMENT: &str = "signature from s3blob secret key";

/// A key id as minisign shows it: 16 upper-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u64);

impl KeyId {
    fn of(keynum: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&keynum[..8]);
        Self(u64::from_le_bytes(b))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", self.0)
    }
}

/// The key ids of `keys`, comma separated, for messages.
pub fn ids(keys: &[TrustedKey]) -> String {
    keys.iter()
        .map(|k| k.id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A decrypted secret key, ready to sign.
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
    id: KeyId,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.id)
    }
}

impl SigningKey {
    /// Reads a minisign secret key from its text (`untrusted comment: ...` and the key line, or
    /// the key line alone); `source` names where it came from (`--sign-key FILE`,
    /// `S3BLOB_SIGN_KEY`). An encrypted key needs `password`; none is a usage error naming
    /// [`PASSWORD_VARIABLE`], a wrong one too. Never prompts.
    pub fn parse(text: &str, password: Option<&str>, source: &str) -> Result<Self, Error> {
        let line = key_line(text).ok_or_else(|| {
            Error::Usage(format!(
                "{source} holds no minisign secret key (expected the text of a .key file written by `s3blob key generate` or `minisign -G`)"
            ))
        })?;
        let boxed =
            || SecretKeyBox::from_string(&format!("untrusted comment: secret key\n{line}\n"));
        let not_a_key = |_| {
            Error::Usage(format!(
                "{source} is not a valid minisign secret key; give the .key file written by `s3blob key generate` or `minisign -G`"
            ))
        };
        let secret = match boxed().and_then(SecretKeyBox::into_unencrypted_secret_key) {
            Ok(sk) => sk,
            // `minisign -G -W` (the C tool) leaves an unencrypted key's checksum zero, which
            // the crate calls corrupted: such a key is taken as it is, and proven by a
            // signature below.
            Err(e) if e.to_string().contains("Corrupted") => {
                unchecked_plain_key(line).ok_or_else(|| not_a_key(e))?
            }
            // The only refusal of a well-formed box: its key is encrypted.
            Err(e) if e.to_string().contains("encrypted") => {
                let Some(password) = password.filter(|p| !p.is_empty()) else {
                    return Err(Error::Usage(format!(
                        "{source} is an encrypted secret key and no password was given: set {PASSWORD_VARIABLE} (s3blob never prompts)"
                    )));
                };
                boxed()
                    .and_then(|b| b.into_secret_key(Some(password.to_owned())))
                    .map_err(|e| {
                        if e.to_string().contains("Wrong password") {
                            Error::Usage(format!(
                                "{source}: wrong password in {PASSWORD_VARIABLE} for this secret key"
                            ))
                        } else {
                            not_a_key(e)
                        }
                    })?
            }
            Err(e) => return Err(not_a_key(e)),
        };
        let public = PublicKey::from_secret_key(&secret).map_err(not_a_key)?;
        let id = KeyId::of(public.keynum());
        let key = Self { secret, public, id };
        // A key whose halves do not belong together fails here rather than in every
        // consumer's check.
        let probe = key.sign(b"s3blob", "probe").map_err(|_| {
            Error::Usage(format!(
                "{source} is not a valid minisign secret key; give the .key file written by `s3blob key generate` or `minisign -G`"
            ))
        })?;
        debug_assert!(!probe.is_empty());
        Ok(key)
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The public half, to check what this key signed.
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey {
            public: self.public.clone(),
            id: self.id,
        }
    }

    /// The public key line (`RW...`) consumers pin.
    pub fn public_line(&self) -> String {
        self.public.to_base64()
    }

    /// A `.minisig` of `data` with `trusted_comment` (one line), as `minisign -S` writes it.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, Error> {
        minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(trusted_comment),
            Some(UNTRUSTED_COMMENT),
        )
        .map(|b| b.into_string())
        .map_err(|e| Error::Other(format!("cannot sign with key {}: {e}", self.id)))
    }
}

/// An unencrypted secret key whose checksum is zero (as `minisign -G -W` writes it).
fn unchecked_plain_key(line: &str) -> Option<SecretKey> {
    // Layout: sig_alg(2) kdf_alg(2) chk_alg(2) salt(32) ops(8) mem(8) keynum(8) sk(64) chk(32).
    const LEN: usize = 158;
    let bytes = aws_smithy_types::base64::decode(line).ok()?;
    let plain = bytes.len() == LEN && bytes[2..4] == [0, 0] && bytes[126..].iter().all(|b| *b == 0);
    plain.then(|| SecretKey::from_bytes(&bytes).ok()).flatten()
}

/// A new key pair: the secret key's text (encrypted with `password` when given), the public
/// key's text (a `.pub` file), and its id.
pub fn generate(password: Option<&str>) -> Result<(String, String, KeyId), Error> {
    let failed = |e: minisign::PError| Error::Other(format!("cannot generate a key pair: {e}"));
    let pair = match password {
        Some(p) => KeyPair::generate_encrypted_keypair(Some(p.to_owned())),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(failed)?;
    let id = KeyId::of(pair.pk.keynum());
    let comment = if password.is_some() {
        "minisign encrypted secret key"
    } else {
        "minisign secret key (not encrypted)"
    };
    let secret = pair.sk.to_box(Some(comment)).map_err(failed)?.into_string();
    let public = pair.pk.to_box().map_err(failed)?.into_string();
    Ok((secret, public, id))
}

/// A public key consumers trust.
#[derive(Clone)]
pub struct TrustedKey {
    public: PublicKey,
    id: KeyId,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({})", self.id)
    }
}

impl TrustedKey {
    /// A public key from its line (`RW...`) or the text of a `.pub` file; `source` names where
    /// it came from for the message.
    pub fn parse(text: &str, source: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Usage(format!(
                "{source} is not a minisign public key: give the `RW...` line or a .pub file written by `s3blob key generate` or `minisign -G`"
            ))
        };
        let line = key_line(text).ok_or_else(bad)?;
        let public = PublicKeyBox::from_string(&format!("untrusted comment: key\n{line}\n"))
            .and_then(PublicKeyBox::into_public_key)
            .map_err(|_| bad())?;
        let id = KeyId::of(public.keynum());
        Ok(Self { public, id })
    }

    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// The key line of a minisign key file's text: the last non-empty line that is not a comment.
fn key_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
}

/// The trusted comment of a release's manifest signature.
pub fn release_comment(suite: &str, release: &str, seal_id: &str) -> String {
    format!("s3blob release {suite}/{release} seal {seal_id}")
}

/// The trusted comment of the signature of a file s3blob wrote into a release (`SHA256SUMS`).
pub fn file_comment(suite: &str, release: &str, seal_id: &str, name: &str) -> String {
    format!("{} file {name}", release_comment(suite, release, seal_id))
}

/// What a release's signature is worth to this reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No signature is stored.
    Unsigned,
    /// Signed by a trusted key, and the signature verifies.
    Trusted(KeyId),
    /// Signed by a key that is not among the trusted ones (not checkable: no key).
    NotTrusted(KeyId),
    /// Signed by this key id; no trusted key was given, so nothing could be checked.
    Unchecked(KeyId),
    /// A signature that is malformed, for another release, or does not verify.
    Invalid { key: Option<KeyId>, why: String },
}

impl Verdict {
    /// The key id the signature names, if it could be read.
    pub fn key(&self) -> Option<KeyId> {
        match self {
            Verdict::Unsigned => None,
            Verdict::Trusted(k) | Verdict::NotTrusted(k) | Verdict::Unchecked(k) => Some(*k),
            Verdict::Invalid { key, .. } => *key,
        }
    }

    /// One phrase: `signed by KEYID (trusted)`, `not signed`, ...
    pub fn describe(&self) -> String {
        match self {
            Verdict::Unsigned => "not signed".to_owned(),
            Verdict::Trusted(k) => format!("signed by {k} (trusted)"),
            Verdict::NotTrusted(k) => format!("signed by {k} (not trusted)"),
            Verdict::Unchecked(k) => format!("signed by {k} (no trusted keys given)"),
            Verdict::Invalid { key: Some(k), why } => format!("bad signature by {k}: {why}"),
            Verdict::Invalid { key: None, why } => format!("bad signature: {why}"),
        }
    }

    /// `trusted`, `not trusted`, `no trusted keys given`, `invalid` or `unsigned` (JSON).
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Unsigned => "unsigned",
            Verdict::Trusted(_) => "trusted",
            Verdict::NotTrusted(_) => "not trusted",
            Verdict::Unchecked(_) => "no trusted keys given",
            Verdict::Invalid { .. } => "invalid",
        }
    }
}

/// Judges `signature` (the stored `.minisig`, if any) of `data` against the trusted `keys`;
/// its trusted comment must be `expected` exactly.
pub fn check(
    signature: Option<&[u8]>,
    data: &[u8],
    expected: &str,
    keys: &[TrustedKey],
) -> Verdict {
    let Some(signature) = signature else {
        return Verdict::Unsigned;
    };
    let sig = match parse(signature) {
        Ok(sig) => sig,
        Err(verdict) => return verdict,
    };
    let key = KeyId::of(sig.keynum());
    let comment_matches = || match sig.trusted_comment() {
        Ok(c) if c == expected => Ok(()),
        Ok(c) => Err(Verdict::Invalid {
            key: Some(key),
            why: format!(
                "its trusted comment is {c:?}, not {expected:?} (a signature of another release)"
            ),
        }),
        Err(_) => Err(Verdict::Invalid {
            key: Some(key),
            why: "it has no trusted comment".to_owned(),
        }),
    };
    if keys.is_empty() {
        return comment_matches().err().unwrap_or(Verdict::Unchecked(key));
    }
    let Some(trusted) = keys.iter().find(|k| k.id == key) else {
        return Verdict::NotTrusted(key);
    };
    if minisign::verify(&trusted.public, &sig, Cursor::new(data), true, false, false).is_err() {
        return Verdict::Invalid {
            key: Some(key),
            why: "it does not verify against the stored bytes (altered or replaced)".to_owned(),
        };
    }
    comment_matches().err().unwrap_or(Verdict::Trusted(key))
}

/// A stored signature as minisign's box, or the verdict on one that is not a signature.
fn parse(signature: &[u8]) -> Result<SignatureBox, Verdict> {
    std::str::from_utf8(signature)
        .ok()
        .and_then(|s| SignatureBox::from_string(s).ok())
        .ok_or_else(|| Verdict::Invalid {
            key: None,
            why: "not a minisign signature (corrupted)".to_owned(),
        })
}

/// What a stored signature says without the bytes it signed, for listing many releases
/// cheaply: its key id and whether its trusted comment names `suite`/`release` (any seal id,
/// since the manifest that holds the seal id is not read). [`Verdict::Unchecked`] or
/// [`Verdict::Invalid`]; [`check`] is the verdict that verifies.
pub fn glance(signature: &[u8], suite: &str, release: &str) -> Verdict {
    let sig = match parse(signature) {
        Ok(sig) => sig,
        Err(verdict) => return verdict,
    };
    let key = KeyId::of(sig.keynum());
    let prefix = release_comment(suite, release, "");
    match sig.trusted_comment() {
        Ok(c) if c.strip_prefix(&prefix).is_some_and(|id| !id.is_empty()) => {
            Verdict::Unchecked(key)
        }
        Ok(c) => Verdict::Invalid {
            key: Some(key),
            why: format!(
                "its trusted comment is {c:?}, not one of {suite}/{release} (a signature of another release)"
            ),
        },
        Err(_) => Verdict::Invalid {
            key: Some(key),
            why: "it has no trusted comment".to_owned(),
        },
    }
}

/// With trusted keys, only [`Verdict::Trusted`] passes; anything else is an integrity error
/// (exit 5) naming `what` (the release), the key id found and the key ids trusted. Without
/// trusted keys everything passes.
pub fn require(verdict: &Verdict, what: &str, keys: &[TrustedKey]) -> Result<(), Error> {
    if keys.is_empty() || matches!(verdict, Verdict::Trusted(_)) {
        return Ok(());
    }
    let trusted = ids(keys);
    let found = match verdict {
        Verdict::Unsigned => "it is not signed".to_owned(),
        Verdict::NotTrusted(k) => format!("it is signed by {k}, which is not trusted"),
        other => format!("it has a {}", other.describe()),
    };
    Err(Error::Integrity(format!(
        "{what}: {found}; trusted keys: {trusted}{REFUSED}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SigningKey, TrustedKey) {
        let (secret, public, id) = generate(None).unwrap();
        let sk = SigningKey::parse(&secret, None, "test").unwrap();
        let pk = TrustedKey::parse(&public, "test").unwrap();
        assert_eq!((sk.id(), pk.id()), (id, id));
        assert_eq!(id.to_string().len(), 16);
        (sk, pk)
    }

    #[test]
    fn a_signature_verifies_only_for_its_bytes_key_and_comment() {
        let (sk, pk) = pair();
        let (_, other) = pair();
        let comment = release_comment("app", "1.0", "abc");
        let sig = sk.sign(b"manifest", &comment).unwrap();
        let check = |data: &[u8], expected: &str, keys: &[TrustedKey]| {
            check(Some(sig.as_bytes()), data, expected, keys)
        };
        assert_eq!(
            check(b"manifest", &comment, std::slice::from_ref(&pk)),
            Verdict::Trusted(sk.id())
        );
        assert_eq!(
            check(b"manifest", &comment, &[other.clone(), pk.clone()]),
            Verdict::Trusted(sk.id())
        );
        assert!(matches!(
            check(b"altered", &comment, std::slice::from_ref(&pk)),
            Verdict::Invalid { .. }
        ));
        let replayed = release_comment("app", "2.0", "abc");
        assert!(matches!(
            check(b"manifest", &replayed, std::slice::from_ref(&pk)),
            Verdict::Invalid { .. }
        ));
        assert_eq!(
            check(b"manifest", &comment, std::slice::from_ref(&other)),
            Verdict::NotTrusted(sk.id())
        );
        assert_eq!(
            check(b"manifest", &comment, &[]),
            Verdict::Unchecked(sk.id())
        );
        assert_eq!(
            super::check(None, b"manifest", &comment, std::slice::from_ref(&pk)),
            Verdict::Unsigned
        );
        let corrupted = sig.replace('R', "S");
        assert!(matches!(
            super::check(
                Some(corrupted.as_bytes()),
                b"manifest",
                &comment,
                std::slice::from_ref(&pk)
            ),
            Verdict::Invalid { .. }
        ));
    }

    #[test]
    fn a_glance_reads_the_key_id_and_the_release_named_without_the_bytes() {
        let (sk, _) = pair();
        let sig = sk
            .sign(b"manifest", &release_comment("app", "1.0", "abc"))
            .unwrap();
        assert_eq!(
            glance(sig.as_bytes(), "app", "1.0"),
            Verdict::Unchecked(sk.id())
        );
        for (suite, release) in [("app", "1.01"), ("app", "1"), ("other", "1.0")] {
            assert!(
                matches!(
                    glance(sig.as_bytes(), suite, release),
                    Verdict::Invalid { key: Some(k), .. } if k == sk.id()
                ),
                "{suite}/{release}"
            );
        }
        assert!(matches!(
            glance(b"garbage", "app", "1.0"),
            Verdict::Invalid { key: None, .. }
        ));
    }

    #[test]
    fn only_trusted_passes_when_keys_are_given() {
        let (sk, pk) = pair();
        assert!(require(&Verdict::Unsigned, "r", &[]).is_ok());
        assert!(require(&Verdict::Trusted(sk.id()), "r", std::slice::from_ref(&pk)).is_ok());
        let err = require(
            &Verdict::NotTrusted(KeyId(1)),
            "s3://b/app/1/",
            std::slice::from_ref(&pk),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        let msg = err.to_string();
        assert!(msg.contains("s3://b/app/1/"), "{msg}");
        assert!(msg.contains("0000000000000001"), "{msg}");
        assert!(msg.contains(&pk.id().to_string()), "{msg}");
        assert_eq!(
            require(&Verdict::Unsigned, "r", &[pk])
                .unwrap_err()
                .exit_code(),
            5
        );
    }

    #[test]
    fn keys_parse_from_a_line_or_a_file_and_never_show_the_secret() {
        let (secret, public, id) = generate(None).unwrap();
        let line = public.lines().nth(1).unwrap();
        assert!(line.starts_with("RW"));
        assert_eq!(TrustedKey::parse(line, "k").unwrap().id(), id);
        let sk = SigningKey::parse(secret.lines().nth(1).unwrap(), None, "k").unwrap();
        assert_eq!(format!("{sk:?}"), format!("SigningKey({id})"));
        assert_eq!(sk.public_line(), line);
        for bad in ["", "RWnotakey", "untrusted comment: x\n"] {
            assert_eq!(TrustedKey::parse(bad, "k").unwrap_err().exit_code(), 2);
            assert_eq!(
                SigningKey::parse(bad, None, "k").unwrap_err().exit_code(),
                2
            );
        }
    }
}
