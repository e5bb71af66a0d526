//! `doctor`'s report: one line per check (`ok`, `info`, `warn`, `reduced`), what the store did
//! and what s3blob does about it, and a verdict; or one JSON object.

use serde_json::{Value, json};

use super::Report;
use crate::error::code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// As S3 does it.
    Ok,
    /// Worth knowing; no guarantee depends on it.
    Info,
    /// A feature or a safeguard works less well; every guarantee still holds.
    Warn,
    /// A guarantee is weaker on this store (the line says which).
    Reduced,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Reduced => "reduced",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    /// A stable name for scripts (`conditional-writes`).
    pub id: &'static str,
    pub status: Status,
    /// What the store did.
    pub found: String,
    /// What s3blob does about it (empty: nothing to say).
    pub s3blob: String,
}

pub struct DoctorReport {
    pub endpoint: String,
    pub bucket: String,
    pub path_style: bool,
    /// Where each setting came from (flag, environment, `.env`, profile, default): what a
    /// directory's `.env` changed is visible here.
    pub settings: Vec<crate::config::SettingOrigin>,
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn reduced(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Reduced)
            .map(|c| c.id)
            .collect()
    }
}

impl Report for DoctorReport {
    fn text(&self) -> String {
        let mut out = format!(
            "store: {} bucket {} ({})\n",
            self.endpoint,
            self.bucket,
            if self.path_style {
                "path-style addressing"
            } else {
                "virtual-hosted addressing"
            }
        );
        out.push_str("settings:\n");
        for line in &self.settings {
            out.push_str(&format!("  {line}\n"));
        }
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &self.checks {
            out.push_str(&format!(
                "{:<8} {:<width$}  {}\n",
                c.status.word(),
                c.id,
                crate::escape::escape(&c.found)
            ));
            if !c.s3blob.is_empty() {
                out.push_str(&format!("{:<8} {:<width$}  s3blob: {}\n", "", "", c.s3blob));
            }
        }
        let reduced = self.reduced();
        if reduced.is_empty() {
            out.push_str("verdict: s3blob works with this store with every guarantee");
        } else {
            out.push_str(&format!(
                "verdict: s3blob works with this store with reduced guarantees ({}): see the lines above (exit {})",
                reduced.join(", "),
                code::REDUCED
            ));
        }
        out
    }

    fn json(&self) -> Value {
        let reduced = self.reduced();
        json!({
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "addressing": if self.path_style { "path" } else { "virtual" },
            "settings": self.settings.iter().map(|s| json!({
                "setting": s.setting,
                "value": s.value,
                "source": s.source,
                "via": s.via,
            })).collect::<Vec<_>>(),
            "checks": self.checks.iter().map(|c| json!({
                "id": c.id,
                "status": c.status.word(),
                "found": c.found,
                "s3blob": c.s3blob,
            })).collect::<Vec<_>>(),
            "verdict": if reduced.is_empty() { "full" } else { "reduced" },
            "reduced": reduced,
        })
    }

    fn summary(&self) -> String {
        let reduced = self.reduced().len();
        if reduced == 0 {
            format!("{} checks, every guarantee holds", self.checks.len())
        } else {
            format!(
                "{} checks, {reduced} with reduced guarantees",
                self.checks.len()
            )
        }
    }

    fn exit_code(&self) -> u8 {
        if self.reduced().is_empty() {
            code::OK
        } else {
            code::REDUCED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[Status]) -> DoctorReport {
        DoctorReport {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "b".into(),
            path_style: true,
            settings: Vec::new(),
            checks: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| Check {
                    id: ["one", "two", "three"][i],
                    status: *s,
                    found: "found".into(),
                    s3blob: if *s == Status::Reduced {
                        "does".into()
                    } else {
                        String::new()
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn only_reduced_checks_change_the_exit_code() {
        assert_eq!(
            report(&[Status::Ok, Status::Info, Status::Warn]).exit_code(),
            0
        );
        let r = report(&[Status::Ok, Status::Reduced, Status::Warn]);
        assert_eq!(r.exit_code(), code::REDUCED);
        assert!(
            r.text()
                .ends_with("reduced guarantees (two): see the lines above (exit 8)")
        );
        assert_eq!(r.json()["verdict"], "reduced");
        assert_eq!(r.json()["reduced"][0], "two");
        assert!(r.text().contains("reduced  two    found\n"), "{}", r.text());
        assert!(r.text().contains("s3blob: does"));
    }
}
