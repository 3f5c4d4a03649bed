//! One view of the request path: normalised once, before any decision, following RFC 3986
//! section 6.2.2 (unreserved characters percent-decoded, other escapes in upper-case hex,
//! dot segments removed, repeated slashes merged). What cannot be normalised safely — an
//! escaped `/` or `\`, a raw `\`, an escaped control character, an escaped `%` that hides a
//! dot or a slash, invalid escapes, escaped bytes that are not UTF-8 (overlong dots), Unicode
//! that folds into `.`, `/` or `\` — is refused. The routed path is the one the backend gets.

use std::borrow::Cow;

/// Refusals that can be switched on, on top of the ones that are always made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strictness {
    /// Refuse every escaped `%` (`%25`), not only the ones that hide a dot, slash or control.
    pub(crate) reject_escaped_percent: bool,
    /// Refuse every `;` path parameter, not only those that would change the routing.
    pub(crate) reject_path_parameters: bool,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathError {
    #[error("the request target is not a path")]
    NotAPath,
    #[error("the path contains an escaped slash or backslash")]
    EscapedSlash,
    #[error("the path contains a backslash")]
    Backslash,
    #[error("the path contains an escaped control character")]
    Control,
    #[error("the path contains an invalid percent-escape")]
    InvalidEscape,
    #[error("the path contains a double-escaped character")]
    DoubleEscape,
    #[error("the path's escaped bytes are not UTF-8")]
    NotUtf8,
    #[error("the path contains characters that fold into path syntax")]
    Lookalike,
    #[error("the path contains a parameter that hides a dot segment")]
    Parameter,
    #[error("the path contains a ; parameter, which this gateway refuses (routes.reject_path_parameters)")]
    ParameterRefused,
    #[error("the path contains raw bytes that must be escaped")]
    RawByte,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `path` is already in normal form: nothing to decode, no dot segment, no empty
/// segment, nothing to refuse. The common case, checked without allocating.
fn already_normal(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'%' | b'\\' | b';' => return false,
            b'/' => {
                let rest = &b[i + 1..];
                if rest.first() == Some(&b'/') || rest.starts_with(b"./") || rest.starts_with(b"../") {
                    return false;
                }
                if rest == b"." || rest == b".." {
                    return false;
                }
            }
            c if !(0x21..0x7f).contains(&c) => return false,
            _ => {}
        }
    }
    true
}

/// A request target split into its path and query. Origin form (`/p?q`) as sent; absolute
/// form (`http://host/p?q`) reduced to its path and query, so the backend gets origin form.
/// Anything else (`*`, `host:443`, `foo:bar`) is not a path. A `#fragment` is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    /// The target was not in origin form: the backend must get it rewritten.
    pub(crate) absolute: bool,
}

pub(crate) fn split_target(raw: &[u8]) -> Result<Target<'_>, PathError> {
    let raw = std::str::from_utf8(raw).map_err(|_| PathError::RawByte)?;
    let raw = raw.split('#').next().unwrap_or_default();
    let (rest, absolute) = if raw.starts_with('/') {
        (raw, false)
    } else {
        let lower_scheme = raw.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
        let after_scheme = if lower_scheme.starts_with("http://") {
            &raw[7..]
        } else if lower_scheme.starts_with("https://") {
            &raw[8..]
        } else {
            return Err(PathError::NotAPath);
        };
        (after_scheme.find(['/', '?']).map_or("/", |i| &after_scheme[i..]), true)
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok(Target { path, query, absolute })
}

/// The normal form of `path` (the path of an origin-form request target, without the query),
/// or why it is refused.
pub(crate) fn normalize(path: &str, strict: Strictness) -> Result<Cow<'_, str>, PathError> {
    if already_normal(path) {
        return Ok(Cow::Borrowed(path));
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAPath);
    }
    let decoded = decode_unreserved(path.as_bytes(), strict)?;
    // `%25%32%65` decodes to `%2e`: a second decoding would make that a dot.
    let mut rest = decoded.as_str();
    while let Some(i) = rest.find("%25") {
        if hides_syntax(&rest.as_bytes()[i + 3..]) {
            return Err(PathError::DoubleEscape);
        }
        rest = &rest[i + 3..];
    }
    if strict.reject_path_parameters && decoded.contains(';') {
        return Err(PathError::ParameterRefused);
    }
    let out = remove_dot_segments(&decoded);
    check_parameters(&out)?;
    check_escaped_text(&out)?;
    Ok(Cow::Owned(out))
}

/// Decode escapes of unreserved characters, upper-case the rest, refuse what is unsafe.
fn decode_unreserved(b: &[u8], strict: Strictness) -> Result<String, PathError> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' => return Err(PathError::Backslash),
            b'%' => {
                let (hi, lo) = match (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                    (Some(h), Some(l)) => (h, l),
                    _ => return Err(PathError::InvalidEscape),
                };
                let v = hi << 4 | lo;
                match v {
                    b'/' | b'\\' => return Err(PathError::EscapedSlash),
                    0..=0x1f | 0x7f => return Err(PathError::Control),
                    b'%' => {
                        if strict.reject_escaped_percent || hides_syntax(&b[i + 3..]) {
                            return Err(PathError::DoubleEscape);
                        }
                        out.push_str("%25");
                    }
                    v if is_unreserved(v) => out.push(v as char),
                    v => {
                        const HEX: &[u8; 16] = b"0123456789ABCDEF";
                        out.push('%');
                        out.push(HEX[usize::from(v >> 4)] as char);
                        out.push(HEX[usize::from(v & 0xf)] as char);
                    }
                }
                i += 3;
            }
            c if !(0x21..0x7f).contains(&c) => return Err(PathError::RawByte),
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// After an escaped `%`: would a second decoding produce a dot, a slash, a backslash, a
/// control character or another `%`?
fn hides_syntax(rest: &[u8]) -> bool {
    match (rest.first().copied().and_then(hex), rest.get(1).copied().and_then(hex)) {
        (Some(h), Some(l)) => matches!(h << 4 | l, b'.' | b'/' | b'\\' | b'%' | 0..=0x1f | 0x7f),
        _ => false,
    }
}

/// RFC 3986 section 5.2.4, with empty segments merged; `..` above the root stays at the root.
/// A path that ended in a segment (or `.`/`..`) keeps its trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in path.split('/').skip(1) {
        trailing_slash = false;
        match segment {
            "" | "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    out
}

/// A `;` parameter may not hide a dot segment or an empty segment: servlet containers
/// (`..;/`), Jetty and others strip parameters before they route.
fn check_parameters(path: &str) -> Result<(), PathError> {
    if !path.contains(';') {
        return Ok(());
    }
    for segment in path.split('/').skip(1) {
        if let Some((name, _)) = segment.split_once(';') {
            if matches!(name, "" | "." | ".." | "%2E" | "%2E%2E") {
                return Err(PathError::Parameter);
            }
        }
    }
    Ok(())
}

/// The path with every `;` parameter removed from its segments: how a servlet container
/// routes it.
pub(crate) fn without_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').skip(1) {
        out.push('/');
        out.push_str(segment.split_once(';').map_or(segment, |(name, _)| name));
    }
    out
}

/// The remaining escapes, decoded, must be UTF-8 (an overlong `%C0%AE` is a dot to old
/// decoders) and must not fold (NFKC, as some frameworks apply) into path syntax.
fn check_escaped_text(path: &str) -> Result<(), PathError> {
    use unicode_normalization::UnicodeNormalization;
    if !path.contains('%') {
        return Ok(());
    }
    let bytes: Vec<u8> = percent_decode(path.as_bytes());
    let text = std::str::from_utf8(&bytes).map_err(|_| PathError::NotUtf8)?;
    if text.is_ascii() {
        return Ok(());
    }
    let syntax = |s: &str| s.chars().filter(|c| matches!(c, '/' | '\\' | '.' | ';' | '%' | '?' | '#')).count();
    let folded: String = text.nfkc().collect();
    if syntax(&folded) != syntax(text) {
        return Err(PathError::Lookalike);
    }
    // A letter that folds into an ASCII one (fullwidth `ｉ`, dotted `İ`, dotless `ı`) would
    // match a protected prefix on a server that compares paths ignoring case or width.
    if text.chars().filter(|c| !c.is_ascii()).any(folds_to_ascii) {
        return Err(PathError::Lookalike);
    }
    Ok(())
}

/// Whether `c` becomes ASCII under NFKC (`ｉ`, `ﬁ`), or under a case mapping to one ASCII
/// character and combining marks (`İ` lower-cases to `i` + U+0307, `ı` upper-cases to `I`;
/// `ß` to `SS` is two letters, as no per-character comparison makes it).
fn folds_to_ascii(c: char) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let combining = |m: char| ('\u{300}'..='\u{36f}').contains(&m);
    let nfkc: String = std::iter::once(c).nfkc().collect();
    if nfkc.chars().all(|m| m.is_ascii() || combining(m)) {
        return true;
    }
    let one_ascii = |s: String| {
        let mut it = s.chars();
        it.next().is_some_and(|f| f.is_ascii()) && it.all(combining)
    };
    one_ascii(c.to_lowercase().collect()) || one_ascii(c.to_uppercase().collect())
}

/// Every `%XX` escape of `b` decoded (invalid ones kept as they are); no `+` rule.
pub(crate) fn percent_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
