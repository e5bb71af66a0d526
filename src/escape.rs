//! Strings from the server, made safe to show on a terminal or in a log line.
//!
//! Anyone who can write to a bucket chooses its keys, and a server chooses its error messages,
//! ETags and metadata values. Printed raw, a newline forges a second log line, an escape
//! sequence drives the terminal, and a bidi override shows a name reversed. Everything that
//! goes to stderr, and every plain-text result on stdout, passes through [`escape`]: control
//! characters and the invisible direction marks are shown as Rust writes them (`\n`, `\u{1b}`,
//! `\u{202e}`). JSON output needs none of this: serde_json escapes control characters itself.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is: a control character (C0, DEL, C1) or a
/// character that changes the direction of the text around it without being seen.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every hazardous character shown as an escape; borrowed when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hazard) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push(&mut out, c);
    }
    Cow::Owned(out)
}

/// Text of several lines, each line escaped and the line breaks kept.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_hazard(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.split('\n').map(escape).collect::<Vec<_>>().join("\n"))
}

/// A GitHub Actions workflow command (`::error title=…::message`) as one line: the message
/// escaped as GitHub documents for a command's data (`%`, CR and LF as `%25`, `%0D`, `%0A`, so a
/// message of several lines stays one command and shows its lines), the title likewise for a
/// property (`:` and `,` as well), and then anything else hazardous shown visibly.
pub fn workflow_command(command: &str, title: &str, message: &str) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = data(title).replace(':', "%3A").replace(',', "%2C");
    format!(
        "::{command} title={}::{}",
        escape(&property),
        escape(&data(message))
    )
}

fn push(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_hazard(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazards_are_shown_visibly() {
        let cases = [
            ("plain name-1.2.tar.gz", "plain name-1.2.tar.gz"),
            ("a\nb", "a\\nb"),
            ("a\r\tb", "a\\r\\tb"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("bel\u{7}del\u{7f}c1\u{9b}", "bel\\u{7}del\\u{7f}c1\\u{9b}"),
            ("evil\u{202e}zg.exe", "evil\\u{202e}zg.exe"),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}",
                "\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{200e}\\u{200f}\\u{61c}",
            ),
            // Letters of right-to-left scripts are text, not hazards.
            ("שלום", "שלום"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(escape(input), want, "{input:?}");
        }
        assert!(matches!(escape("ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn workflow_commands_are_one_line_escaped_as_github_documents() {
        assert_eq!(
            workflow_command("error", "s3blob upload: a%b:c,d\ne", "s/r/50%:x\ny\r\u{1b}"),
            "::error title=s3blob upload%3A a%25b%3Ac%2Cd%0Ae::s/r/50%25:x%0Ay%0D\\u{1b}"
        );
        assert_eq!(
            workflow_command("warning", "s3blob", "plain"),
            "::warning title=s3blob::plain"
        );
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(escape_lines("a\u{1b}\nb\u{202e}"), "a\\u{1b}\nb\\u{202e}");
        assert_eq!(escape_lines("a\nb"), "a\nb");
        assert!(matches!(escape_lines("a\nb"), Cow::Borrowed(_)));
    }
}
