//! Loopback fakes of the AWS credential services, so integration tests can run s3blob through
//! every credential source of aws-config's default chain and prove, from the S3 server's request
//! log, which credentials signed each request.
//!
//! One HTTP/1.1 server on 127.0.0.1 plays, by path:
//!
//! | service | requests | what a test sets |
//! |---|---|---|
//! | IMDSv2 | `PUT /latest/api/token`, `GET /latest/meta-data/...` | `AWS_EC2_METADATA_SERVICE_ENDPOINT=<endpoint>`, and *not* `AWS_EC2_METADATA_DISABLED=true` |
//! | ECS/EKS container credentials | `GET /ecs/credentials` | `AWS_CONTAINER_CREDENTIALS_FULL_URI=<endpoint>/ecs/credentials` ([`CredentialServer::ecs_uri`]), optionally `AWS_CONTAINER_AUTHORIZATION_TOKEN=`[`ECS_AUTH_TOKEN`] |
//! | STS `AssumeRoleWithWebIdentity` / `AssumeRole` | `POST /` (form body) | `AWS_ENDPOINT_URL_STS=<endpoint>` |
//! | SSO portal `GetRoleCredentials` | `GET /federation/credentials` | `AWS_ENDPOINT_URL_SSO=<endpoint>` |
//!
//! Each source hands out credentials of its own ([`IMDS`], [`ECS`], [`WEB_IDENTITY`],
//! [`ASSUME_ROLE`], [`SSO`]): a request the S3 server logs with one of those access keys can only
//! have been signed with what that source issued. Every credential expires in 2099, so no test
//! ever sees a refresh.
//!
//! The server records every request it receives ([`CredentialServer::requests`]) and stops when
//! its [`CredentialServer`] is dropped; tests create one each.
//!
//! What aws-config 1.13 does that a test must allow for:
//! - The default chain is environment, profile, web identity, ECS, IMDS; the first source that
//!   is configured wins, so `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` must be removed to reach
//!   any other source.
//! - Its STS and SSO clients honour `AWS_ENDPOINT_URL_STS`/`AWS_ENDPOINT_URL_SSO`, but fall back
//!   to the global `AWS_ENDPOINT_URL`: without the service-specific variable, STS calls go to
//!   whatever S3 endpoint that names.
//! - IMDS takes three requests (token, role name, credentials); it answers a 401 by retrying.
//! - The web identity token file is sent byte for byte: no trailing newline.
//! - SSO reads a cached token from `$HOME/.aws/sso/cache` ([`write_sso_token_cache`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

/// Temporary credentials one source hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    /// `ASIAFAKE<SOURCE>...`: an S3 request signed with this came from that source.
    pub access_key_id: &'static str,
    pub secret_access_key: &'static str,
    pub session_token: &'static str,
}

/// What IMDS serves for the instance profile [`IMDS_ROLE_NAME`].
pub const IMDS: Issued = Issued {
    access_key_id: "ASIAFAKEIMDS00000001",
    secret_access_key: "fakeImdsSecretKey0000000000000000000001",
    session_token: "FwoFAKE-imds-session-token-s3blob-testserver-0000000000000000000001",
};

/// What the ECS/EKS container endpoint serves.
pub const ECS: Issued = Issued {
    access_key_id: "ASIAFAKEECS000000002",
    secret_access_key: "fakeEcsSecretKey00000000000000000000002",
    session_token: "FwoFAKE-ecs-session-token-s3blob-testserver-00000000000000000000002",
};

/// What STS `AssumeRoleWithWebIdentity` returns for [`WEB_IDENTITY_TOKEN`] and [`ROLE_ARN`].
pub const WEB_IDENTITY: Issued = Issued {
    access_key_id: "ASIAFAKEWEBID0000003",
    secret_access_key: "fakeWebIdentitySecretKey000000000000003",
    session_token: "FwoFAKE-web-identity-session-token-s3blob-testserver-000000000003",
};

/// What STS `AssumeRole` returns for [`ROLE_ARN`] when signed with [`SOURCE_ACCESS_KEY`].
pub const ASSUME_ROLE: Issued = Issued {
    access_key_id: "ASIAFAKEASSUME000004",
    secret_access_key: "fakeAssumeRoleSecretKey0000000000000004",
    session_token: "FwoFAKE-assume-role-session-token-s3blob-testserver-0000000000004",
};

/// What the SSO portal's `GetRoleCredentials` returns for [`SSO_ACCESS_TOKEN`].
pub const SSO: Issued = Issued {
    access_key_id: "ASIAFAKESSO000000005",
    secret_access_key: "fakeSsoSecretKey00000000000000000000005",
    session_token: "FwoFAKE-sso-session-token-s3blob-testserver-00000000000000000000005",
};

/// Every set of credentials the fake hands out, one per source, all distinct.
pub fn all_issued() -> [Issued; 5] {
    [IMDS, ECS, WEB_IDENTITY, ASSUME_ROLE, SSO]
}

/// The account every fake role lives in (the SSO `sso_account_id` a test configures, too).
pub const ACCOUNT_ID: &str = "123456789012";

/// The only role STS lets anyone assume, with a web identity token or with AssumeRole.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/s3blob-test-role";

/// The only web identity token STS accepts. aws-config sends the token file's bytes as they
/// are, so a test must write it without a trailing newline.
pub const WEB_IDENTITY_TOKEN: &str = "eyFAKE.s3blob-web-identity-token.testserver";

/// The ECS authorization token: a request that carries an `Authorization` header must carry
/// exactly this (aws-config sends `AWS_CONTAINER_AUTHORIZATION_TOKEN` as the raw header value).
pub const ECS_AUTH_TOKEN: &str = "fake-ecs-authorization-token-s3blob";

/// The only SSO access token the portal accepts (the `accessToken` of the cached SSO token).
pub const SSO_ACCESS_TOKEN: &str = "fake-sso-access-token-s3blob";

/// A long-term key pair a test puts in a source profile: the only key allowed to call
/// `AssumeRole`. S3 must never see it when the role is assumed.
pub const SOURCE_ACCESS_KEY: &str = "AKIAFAKESOURCE000006";
/// The secret of [`SOURCE_ACCESS_KEY`] (never checked: the fake does not verify signatures).
pub const SOURCE_SECRET_KEY: &str = "fakeSourceSecretKey00000000000000000006";

/// The region IMDS reports at `/latest/meta-data/placement/region`; also a sensible
/// `sso_region` and `region` for test profiles.
pub const REGION: &str = "eu-west-3";

/// The instance profile IMDS lists at `/latest/meta-data/iam/security-credentials/`.
pub const IMDS_ROLE_NAME: &str = "s3blob-test-role";

/// The session token IMDS hands out at `PUT /latest/api/token` and then requires on every GET.
pub const IMDS_TOKEN: &str = "FAKE-imds-v2-session-token-s3blob==";

/// The path of the ECS/EKS container credentials endpoint.
pub const ECS_PATH: &str = "/ecs/credentials";

/// A start URL for SSO test profiles (aws-config never connects to it: it only names the
/// cached token when no `sso_session` is configured).
pub const SSO_START_URL: &str = "https://s3blob-test.awsapps.com/start";

const EXPIRATION: &str = "2099-01-01T00:00:00Z";
/// [`EXPIRATION`] in epoch milliseconds, as the SSO portal writes it.
const EXPIRATION_MILLIS: u64 = 4_070_908_800_000;
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw (still percent-encoded) query, empty when there is none.
    pub query: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of `name` in the form-urlencoded body (STS parameters such as
    /// `Action`, `RoleArn`, `RoleSessionName`).
    pub fn form_value(&self, name: &str) -> Option<String> {
        lookup(&parse_form(&self.body), name)
    }

    /// The decoded value of query parameter `name` (SSO's `account_id`, `role_name`).
    pub fn query_value(&self, name: &str) -> Option<String> {
        lookup(&parse_form(&self.query), name)
    }

    /// The access key that SigV4-signed this request, from `Authorization: ... Credential=`.
    pub fn access_key(&self) -> Option<String> {
        self.header("authorization")
            .and_then(credential_access_key)
            .map(str::to_owned)
    }
}

/// A running fake; it stops accepting, and its thread ends, when dropped.
pub struct CredentialServer {
    /// `http://127.0.0.1:PORT`, the value for `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
    /// `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL_SSO`.
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CredentialServer {
    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests had a path starting with `path_prefix` (`/latest/`, `/ecs/`,
    /// `/federation/`; every STS call is `/`, see [`CredentialServer::count_action`]).
    pub fn count(&self, path_prefix: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(path_prefix))
            .count()
    }

    /// How many STS calls of `action` (`AssumeRole`, `AssumeRoleWithWebIdentity`) arrived.
    pub fn count_action(&self, action: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == "POST" && s.form_value("Action").as_deref() == Some(action))
            .count()
    }

    /// The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn ecs_uri(&self) -> String {
        format!("{}{ECS_PATH}", self.endpoint)
    }
}

impl Drop for CredentialServer {
    fn drop(&mut self) {
        // Dropping the sender wakes the accept loop as a send would.
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds 127.0.0.1 on a free port and serves from a thread of its own (with a runtime of its
/// own, so synchronous tests can use it), until the returned server is dropped.
pub fn start() -> CredentialServer {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let log = seen.clone();
    let thread = std::thread::Builder::new()
        .name("credential-fake".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e));
                        return;
                    }
                };
                let _ = addr_tx.send(listener.local_addr());
                serve(listener, log, stop_rx).await;
            });
            // Dropping the runtime here cancels the connections still open (keep-alive).
        })
        .expect("spawn the credential server thread");
    let addr = addr_rx
        .recv()
        .expect("credential server thread")
        .expect("bind 127.0.0.1");
    CredentialServer {
        endpoint: format!("http://{addr}"),
        seen,
        shutdown: Some(stop_tx),
        thread: Some(thread),
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    log: Arc<Mutex<Vec<Seen>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::TokioIo;
    loop {
        let socket = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
        };
        let log = log.clone();
        let service = hyper::service::service_fn(move |req| handle(req, log.clone()));
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

async fn handle(
    req: http::Request<Incoming>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let reply = answer(&seen);
    log.lock().unwrap().push(seen);
    let mut res = http::Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        res = res.header(name, value);
    }
    Ok(res
        .body(Full::new(Bytes::from(reply.body)))
        .expect("valid response"))
}

/// A response, built without I/O so the routing can be unit tested.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain", body)
    }

    fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "application/json", body)
    }

    fn xml(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/xml", body)
    }

    fn not_found() -> Self {
        Self::text(404, "Not Found")
    }

    fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn answer(req: &Seen) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("PUT", "/latest/api/token") => imds_token(req),
        ("GET", path) if path.starts_with("/latest/") => imds_get(req, path),
        ("GET", ECS_PATH) => ecs(req),
        ("POST", "/") => sts(req),
        ("GET", "/federation/credentials") => sso(req),
        _ => Reply::not_found(),
    }
}

/// The refreshable-credentials JSON of IMDS and the container endpoint (which aws-config
/// parses with one parser, `json_credentials`).
fn credentials_json(issued: &Issued, imds_fields: bool) -> String {
    let extra = if imds_fields {
        r#""Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","#
    } else {
        ""
    };
    format!(
        r#"{{{extra}"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{EXPIRATION}"}}"#,
        issued.access_key_id, issued.secret_access_key, issued.session_token
    )
}

fn imds_token(req: &Seen) -> Reply {
    // Real IMDS refuses a token request without a TTL; aws-config always sends one.
    let ttl_ok = req
        .header("x-aws-ec2-metadata-token-ttl-seconds")
        .is_some_and(|v| {
            v.trim()
                .parse::<u32>()
                .is_ok_and(|s| (1..=21_600).contains(&s))
        });
    if !ttl_ok {
        return Reply::text(400, "Bad Request");
    }
    // aws-config caches the token for the TTL this header announces, and refuses a token
    // response without it.
    Reply::text(200, IMDS_TOKEN).with_header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
}

fn imds_get(req: &Seen, path: &str) -> Reply {
    if req.header("x-aws-ec2-metadata-token") != Some(IMDS_TOKEN) {
        // What IMDS answers when IMDSv2 is required; aws-config retries 401s (4 attempts).
        return Reply::text(401, "Unauthorized");
    }
    const CREDS: &str = "/latest/meta-data/iam/security-credentials/";
    match path {
        CREDS => Reply::text(200, IMDS_ROLE_NAME),
        "/latest/meta-data/placement/region" => Reply::text(200, REGION),
        _ if path.strip_prefix(CREDS) == Some(IMDS_ROLE_NAME) => {
            Reply::text(200, credentials_json(&IMDS, true))
        }
        _ => Reply::not_found(),
    }
}

fn ecs(req: &Seen) -> Reply {
    match req.header("authorization") {
        Some(token) if token != ECS_AUTH_TOKEN => Reply::json(
            401,
            r#"{"Code":"AccessDenied","Message":"Invalid authorization token"}"#,
        ),
        _ => Reply::json(200, credentials_json(&ECS, false)),
    }
}

fn sts_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::xml(
        status,
        format!(
            r#"<ErrorResponse xmlns="{STS_XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"#,
            xml_escape(message)
        ),
    )
}

/// The body of a successful AssumeRole or AssumeRoleWithWebIdentity. The assumed-role ARN must
/// have six `:`-separated parts: aws-config reads the account id out of it.
fn sts_success(action: &str, issued: &Issued, session: &str, extra: &str) -> Reply {
    let session = xml_escape(session);
    Reply::xml(
        200,
        format!(
            "<{action}Response xmlns=\"{STS_XMLNS}\"><{action}Result>{extra}<Credentials>\
             <AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{EXPIRATION}</Expiration></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT_ID}:assumed-role/s3blob-test-role/{session}</Arn>\
             <AssumedRoleId>AROAFAKES3BLOBROLE000:{session}</AssumedRoleId></AssumedRoleUser>\
             </{action}Result><ResponseMetadata><RequestId>fake-{action}</RequestId></ResponseMetadata>\
             </{action}Response>",
            issued.access_key_id, issued.secret_access_key, issued.session_token
        ),
    )
}

fn sts(req: &Seen) -> Reply {
    let form = parse_form(&req.body);
    let param = |name| lookup(&form, name);
    let action = param("Action").unwrap_or_default();
    if action != "AssumeRole" && action != "AssumeRoleWithWebIdentity" {
        return sts_error(400, "InvalidAction", "Could not find operation");
    }
    let Some(session) = param("RoleSessionName") else {
        return sts_error(
            400,
            "ValidationError",
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
        );
    };
    let role_ok = param("RoleArn").as_deref() == Some(ROLE_ARN);
    if action == "AssumeRoleWithWebIdentity" {
        // Unsigned: the web identity token is the only proof of identity.
        return if !role_ok {
            sts_error(
                403,
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            )
        } else if param("WebIdentityToken").as_deref() != Some(WEB_IDENTITY_TOKEN) {
            sts_error(
                400,
                "InvalidIdentityToken",
                "Couldn't retrieve verification key from your identity provider",
            )
        } else {
            let extra = "<SubjectFromWebIdentityToken>s3blob-test-subject</SubjectFromWebIdentityToken>\
                         <Audience>sts.amazonaws.com</Audience><Provider>s3blob-test-idp</Provider>";
            sts_success(&action, &WEB_IDENTITY, &session, extra)
        };
    }
    // AssumeRole is SigV4-signed with the source profile's key; the signature itself goes
    // unchecked, the key it names is what the tests are about.
    match req.access_key() {
        None => sts_error(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ),
        Some(key) if key != SOURCE_ACCESS_KEY => sts_error(
            403,
            "AccessDenied",
            &format!("User with access key {key} is not authorized to perform: sts:AssumeRole"),
        ),
        Some(_) if !role_ok => sts_error(
            403,
            "AccessDenied",
            "Not authorized to perform: sts:AssumeRole on this resource",
        ),
        Some(_) => sts_success(&action, &ASSUME_ROLE, &session, ""),
    }
}

fn sso(req: &Seen) -> Reply {
    if req.header("x-amz-sso_bearer_token") != Some(SSO_ACCESS_TOKEN) {
        return Reply::json(401, r#"{"message":"Session token not found or invalid"}"#)
            .with_header("x-amzn-errortype", "UnauthorizedException");
    }
    if req.query_value("account_id").is_none() || req.query_value("role_name").is_none() {
        return Reply::json(
            400,
            r#"{"message":"account_id and role_name are required"}"#,
        )
        .with_header("x-amzn-errortype", "InvalidRequestException");
    }
    Reply::json(
        200,
        format!(
            r#"{{"roleCredentials":{{"accessKeyId":"{}","secretAccessKey":"{}","sessionToken":"{}","expiration":{EXPIRATION_MILLIS}}}}}"#,
            SSO.access_key_id, SSO.secret_access_key, SSO.session_token
        ),
    )
}

/// Where aws-config looks for the cached SSO token named by `identifier` under `home`:
/// `~/.aws/sso/cache/<sha1(identifier)>.json`. The identifier is the `sso_session` name when
/// the profile uses one, else its `sso_start_url`.
pub fn sso_token_cache_path(home: &Path, identifier: &str) -> PathBuf {
    use sha1::{Digest, Sha1};
    let hex: String = Sha1::digest(identifier.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    home.join(".aws/sso/cache").join(format!("{hex}.json"))
}

/// Writes the cached SSO token aws-config reads for `identifier` (see
/// [`sso_token_cache_path`]): [`SSO_ACCESS_TOKEN`], valid until 2099, so aws-config never tries
/// to refresh it through SSO OIDC. Returns the file's path.
pub fn write_sso_token_cache(home: &Path, identifier: &str) -> std::io::Result<PathBuf> {
    let path = sso_token_cache_path(home, identifier);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = format!(
        r#"{{"accessToken":"{SSO_ACCESS_TOKEN}","expiresAt":"{EXPIRATION}","region":"{REGION}","startUrl":"{SSO_START_URL}"}}"#
    );
    std::fs::write(&path, json)?;
    Ok(path)
}

/// Decodes an `application/x-www-form-urlencoded` string (a form body or a query) into its
/// pairs, in order: `+` is a space and `%XX` a byte, as the SDK's query serializer writes them.
pub(crate) fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn lookup(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `+` to space and `%XX` to its byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The access key id in a SigV4 (or SigV4a) `Authorization` header:
/// `AWS4-HMAC-SHA256 Credential=AKID/20260101/region/service/aws4_request, SignedHeaders=...`.
pub(crate) fn credential_access_key(authorization: &str) -> Option<&str> {
    let at = authorization.find("Credential=")?;
    scope_access_key(&authorization[at + "Credential=".len()..])
}

/// The access key id at the head of a credential scope, `AKID/20260101/region/service/...`:
/// what follows `Credential=`, and the (decoded) value of a presigned URL's `X-Amz-Credential`.
pub(crate) fn scope_access_key(scope: &str) -> Option<&str> {
    let (key, _) = scope.split_once('/')?;
    let valid = !key.is_empty() && !key.contains(|c: char| c.is_whitespace() || c == ',');
    valid.then_some(key)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Seen {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Seen {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    #[test]
    fn form_parsing_decodes_plus_and_percent() {
        let form = parse_form(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fs3blob-test-role&RoleSessionName=a+b%20c&Empty=&Flag",
        );
        assert_eq!(lookup(&form, "Action").as_deref(), Some("AssumeRole"));
        assert_eq!(lookup(&form, "RoleArn").as_deref(), Some(ROLE_ARN));
        assert_eq!(lookup(&form, "RoleSessionName").as_deref(), Some("a b c"));
        assert_eq!(lookup(&form, "Empty").as_deref(), Some(""));
        assert_eq!(lookup(&form, "Flag").as_deref(), Some(""));
        assert_eq!(lookup(&form, "Missing"), None);
        // A stray `%` survives rather than eating what follows.
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn credential_extraction() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAFAKESOURCE000006/20260101/eu-west-3/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=abc";
        assert_eq!(credential_access_key(auth), Some(SOURCE_ACCESS_KEY));
        let sigv4a = "AWS4-ECDSA-P256-SHA256 Credential=ASIAKEY/20260101/s3/aws4_request, SignedHeaders=host, Signature=x";
        assert_eq!(credential_access_key(sigv4a), Some("ASIAKEY"));
        // A presigned URL's X-Amz-Credential, decoded.
        assert_eq!(
            scope_access_key("AKID/20260101/us-east-1/s3/aws4_request"),
            Some("AKID")
        );
        assert_eq!(credential_access_key("Bearer abc/def"), None);
        assert_eq!(
            credential_access_key("AWS4-HMAC-SHA256 Credential=/x"),
            None
        );
        assert_eq!(scope_access_key("AKID"), None);
    }

    #[test]
    fn issued_credentials_are_distinct() {
        let all = all_issued();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.access_key_id, b.access_key_id);
                assert_ne!(a.secret_access_key, b.secret_access_key);
                assert_ne!(a.session_token, b.session_token);
            }
            assert_ne!(a.access_key_id, SOURCE_ACCESS_KEY);
        }
    }

    #[test]
    fn imds_requires_the_token() {
        let put = seen(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
            "",
        );
        let r = answer(&put);
        assert_eq!((r.status, r.body.as_str()), (200, IMDS_TOKEN));
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| *n == "x-aws-ec2-metadata-token-ttl-seconds" && v == "21600")
        );
        assert_eq!(
            answer(&seen("PUT", "/latest/api/token", &[], "")).status,
            400
        );

        let list = "/latest/meta-data/iam/security-credentials/";
        assert_eq!(answer(&seen("GET", list, &[], "")).status, 401);
        let token = [("x-aws-ec2-metadata-token", IMDS_TOKEN)];
        assert_eq!(answer(&seen("GET", list, &token, "")).body, IMDS_ROLE_NAME);
        let creds = answer(&seen("GET", &format!("{list}{IMDS_ROLE_NAME}"), &token, ""));
        assert!(
            creds.body.contains(IMDS.session_token) && creds.body.contains(r#""Code":"Success""#)
        );
        assert_eq!(
            answer(&seen("GET", &format!("{list}other"), &token, "")).status,
            404
        );
    }

    #[test]
    fn sts_checks_role_token_and_signer() {
        let web = |role: &str, token: &str| {
            let body = format!(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={role}&RoleSessionName=s&WebIdentityToken={token}"
            );
            answer(&seen("POST", "/", &[], &body))
        };
        let ok = web(ROLE_ARN, WEB_IDENTITY_TOKEN);
        assert_eq!(ok.status, 200);
        assert!(ok.body.contains(WEB_IDENTITY.access_key_id));
        let bad_token = web(ROLE_ARN, "nope");
        assert_eq!(bad_token.status, 400);
        assert!(bad_token.body.contains("<Code>InvalidIdentityToken</Code>"));
        assert!(
            web("arn:aws:iam::1:role/x", WEB_IDENTITY_TOKEN)
                .body
                .contains("AccessDenied")
        );

        let assume = |auth: &[(&str, &str)]| {
            let body = format!(
                "Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE_ARN}&RoleSessionName=s"
            );
            answer(&seen("POST", "/", auth, &body))
        };
        let signed = |key: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/20260101/eu-west-3/sts/aws4_request, SignedHeaders=host, Signature=0"
            )
        };
        let ok = assume(&[("authorization", &signed(SOURCE_ACCESS_KEY))]);
        assert_eq!(ok.status, 200);
        assert!(
            ok.body.contains(ASSUME_ROLE.session_token)
                && ok.body.starts_with("<AssumeRoleResponse")
        );
        assert_eq!(
            assume(&[("authorization", &signed(IMDS.access_key_id))]).status,
            403
        );
        assert_eq!(assume(&[]).status, 403);
    }

    #[test]
    fn sso_and_ecs() {
        let target = format!("/federation/credentials?account_id={ACCOUNT_ID}&role_name=r");
        let ok = answer(&seen(
            "GET",
            &target,
            &[("x-amz-sso_bearer_token", SSO_ACCESS_TOKEN)],
            "",
        ));
        assert_eq!(ok.status, 200);
        assert!(ok.body.contains(SSO.access_key_id) && ok.body.contains("4070908800000"));
        let bad = answer(&seen(
            "GET",
            &target,
            &[("x-amz-sso_bearer_token", "x")],
            "",
        ));
        assert_eq!(bad.status, 401);

        assert_eq!(answer(&seen("GET", ECS_PATH, &[], "")).status, 200);
        assert_eq!(
            answer(&seen(
                "GET",
                ECS_PATH,
                &[("authorization", ECS_AUTH_TOKEN)],
                ""
            ))
            .status,
            200
        );
        assert_eq!(
            answer(&seen("GET", ECS_PATH, &[("authorization", "x")], "")).status,
            401
        );
        assert_eq!(answer(&seen("GET", "/elsewhere", &[], "")).status, 404);
    }

    #[test]
    fn sso_cache_file_name_is_the_sha1_of_the_identifier() {
        // sha1("abc"), the FIPS 180 test vector.
        let path = sso_token_cache_path(Path::new("/home/t"), "abc");
        assert_eq!(
            path,
            Path::new("/home/t/.aws/sso/cache/a9993e364706816aba3e25717850c26c9cd0d89d.json")
        );
    }

    #[test]
    fn serves_over_http_and_stops_on_drop() {
        use std::io::{Read, Write};
        let server = start();
        let addr = server.endpoint.trim_start_matches("http://").to_owned();
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            conn,
            "GET {ECS_PATH} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {ECS_AUTH_TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(ECS.access_key_id));
        assert_eq!(server.count("/ecs/"), 1);
        assert_eq!(
            server.requests()[0].header("Authorization"),
            Some(ECS_AUTH_TOKEN)
        );
        drop(server);
        assert!(std::net::TcpStream::connect(&addr).is_err());
    }
}
