//! File names: checked when a file arrives (no path, no control characters, a sensible length),
//! and made safe wherever they are written out (URLs, `Content-Disposition`).
//!
//! Storage never sees a name: objects are kept under random keys, so a name cannot reach a
//! file system path however it is spelled.

use crate::error::AppError;

/// The longest name kept, in characters (what most file systems allow).
pub const MAX_NAME_CHARS: usize = 255;

/// The name as given, trimmed, or why it cannot be a file's name.
pub fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let refuse = |why: &str| Err(AppError::Validation(format!("That file name {why}.")));
    if name.is_empty() {
        return refuse("is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return refuse(&format!("is longer than {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return refuse("has control characters in it");
    }
    if name.contains('/') || name.contains('\\') || name == "." || name == ".." {
        return refuse("is a path; give the file's name only");
    }
    Ok(name.to_owned())
}

/// The name as one URL path segment (cosmetic: the id finds the file).
pub fn url_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `Content-Disposition` value: an ASCII fallback name (quotes, backslashes and anything
/// outside printable ASCII replaced) and the exact name in RFC 5987's `filename*`.
pub fn content_disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != ';' => c,
            _ => '_',
        })
        .collect();
    format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        url_segment(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_control_characters_and_long_names_are_refused() {
        assert!(check_name("../etc/passwd").is_err());
        assert!(check_name("..\\boot.ini").is_err());
        assert!(check_name("a\u{0}b.txt").is_err());
        assert!(check_name("line\nbreak.txt").is_err());
        assert!(check_name(&"a".repeat(4000)).is_err());
        assert!(check_name("   ").is_err());
        assert_eq!(check_name(" report 2026.pdf ").unwrap(), "report 2026.pdf");
        assert_eq!(check_name("..hidden").unwrap(), "..hidden");
    }

    #[test]
    fn names_are_safe_in_headers_and_urls() {
        let header = content_disposition("attachment", "naïve \"quote\";x.html");
        assert!(header.starts_with("attachment; filename=\"na_ve _quote__x.html\""));
        assert!(header.ends_with("filename*=UTF-8''na%C3%AFve%20%22quote%22%3Bx.html"));
        assert!(!header.contains('\n'));
        assert_eq!(url_segment("a b/c"), "a%20b%2Fc");
    }
}
