//! What a file is, decided by the server: from its first bytes where they say (`infer`), else
//! from its name for the few plain-text kinds, else `application/octet-stream`. The client's
//! `Content-Type` is never asked. A name that claims a type its bytes do not have (`x.png`
//! holding HTML) gets nothing from its name: only text kinds are taken from a name, and a
//! browser is never let to show those as anything but plain text.

/// The type of a file from its first bytes (a few KiB) and its name.
pub fn decide(head: &[u8], name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let by_name = match extension.as_str() {
        "txt" | "log" | "md" | "markdown" | "rs" | "py" | "go" | "c" | "h" | "sql" | "sh"
        | "toml" | "yaml" | "yml" | "ini" | "conf" => Some("text/plain"),
        "csv" => Some("text/csv"),
        "json" => Some("application/json"),
        "html" | "htm" => Some("text/html"),
        "svg" => Some("image/svg+xml"),
        "xml" => Some("application/xml"),
        "js" | "mjs" => Some("text/javascript"),
        "css" => Some("text/css"),
        _ => None,
    };
    let looks_textual = !head.contains(&0) && std::str::from_utf8(trim_partial_utf8(head)).is_ok();
    match by_name {
        // A text kind only when the bytes are text too.
        Some(kind) if looks_textual => kind.to_owned(),
        _ if looks_textual && !head.is_empty() => "text/plain".to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

/// The head may end inside a UTF-8 sequence; that is not a reason to call it binary.
fn trim_partial_utf8(head: &[u8]) -> &[u8] {
    match std::str::from_utf8(head) {
        Ok(_) => head,
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        Err(_) => head,
    }
}

/// Whether a browser may show the file in place (an image, a video, audio, plain text).
/// Everything else (HTML, SVG, XML, scripts, PDFs, unknown bytes) is only ever downloaded.
pub fn shown_inline(mimetype: &str) -> bool {
    matches!(
        mimetype,
        "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "video/mp4"
            | "video/webm"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/x-wav"
            | "audio/wav"
            | "text/plain"
            | "text/csv"
    )
}

/// The `Content-Type` a file is served with: what is shown in place as itself (text as plain
/// UTF-8 text, never as markup), everything else as bytes to save.
pub fn served_as(mimetype: &str) -> &str {
    if !shown_inline(mimetype) {
        "application/octet-stream"
    } else if mimetype.starts_with("text/") {
        "text/plain; charset=utf-8"
    } else {
        mimetype
    }
}

/// Whether the image decoder reads it (and so it gets a thumbnail).
pub fn is_thumbnailable(mimetype: &str) -> bool {
    matches!(
        mimetype,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// A short word for a file's card.
pub fn kind_label(mimetype: &str, name: &str) -> String {
    let known = match mimetype {
        "application/pdf" => "PDF",
        "application/zip" => "ZIP",
        "text/plain" => "Text",
        "text/csv" => "CSV",
        "application/json" => "JSON",
        "text/html" => "HTML",
        _ if mimetype.starts_with("image/") => "Image",
        _ if mimetype.starts_with("video/") => "Video",
        _ if mimetype.starts_with("audio/") => "Audio",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    match name.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() && ext.len() <= 5 => ext.to_ascii_uppercase(),
        _ => "File".to_owned(),
    }
}

/// Slack's `filetype` for a type: `png`, `pdf`, `text`, `binary`.
pub fn slack_filetype(mimetype: &str, name: &str) -> String {
    match mimetype {
        "text/plain" => "text".to_owned(),
        "application/octet-stream" => name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| e.len() <= 5)
            .unwrap_or_else(|| "binary".to_owned()),
        other => other
            .rsplit('/')
            .next()
            .unwrap_or("binary")
            .trim_start_matches("x-")
            .replace("jpeg", "jpg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn bytes_decide_not_names_or_clients() {
        assert_eq!(decide(PNG, "holiday.txt"), "image/png");
        // A "PNG" whose bytes are HTML is not an image, and is not shown as anything.
        let html = b"<!doctype html><script>alert(1)</script>";
        let kind = decide(html, "cat.png");
        assert!(kind == "text/html" || kind == "text/plain", "{kind}");
        assert!(served_as(&kind) != "text/html" && !served_as(&kind).starts_with("image/"));
        assert_eq!(
            decide(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a.svg"),
            "image/svg+xml"
        );
        assert!(!shown_inline("image/svg+xml"));
        assert_eq!(
            decide(b"\0\x01\x02binary", "x.bin"),
            "application/octet-stream"
        );
        assert_eq!(decide(b"hello, world\n", "notes"), "text/plain");
        assert_eq!(decide(b"%PDF-1.7\n", "x"), "application/pdf");
    }

    #[test]
    fn only_safe_kinds_are_shown_in_place() {
        for unsafe_kind in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "text/javascript",
            "application/octet-stream",
            "application/pdf",
        ] {
            assert!(!shown_inline(unsafe_kind), "{unsafe_kind}");
        }
        assert_eq!(served_as("text/html"), "application/octet-stream");
        assert_eq!(
            served_as("application/x-msdownload"),
            "application/octet-stream"
        );
        assert_eq!(served_as("image/png"), "image/png");
    }
}
