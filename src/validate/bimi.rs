//! BIMI (Brand Indicators for Message Identification): the assertion
//! record's URLs, the DMARC policy receivers require before they show a
//! logo, and the SVG Tiny PS profile of a logo kept in the repo.
//!
//! The rules are those receivers apply (BIMI draft, "SVG Tiny Portable/Secure"):
//! a logo is shown only for mail that passes DMARC under a policy of
//! `quarantine` or `reject` applied to all mail, and only if the SVG is the
//! Tiny PS profile: no scripts, no animation, no external references, no
//! raster images, a title, a square view box.

use crate::model::Dmarc;

/// The largest SVG receivers are asked to accept (the BIMI group's limit).
pub(crate) const MAX_SVG_BYTES: usize = 32 * 1024;

/// The largest URL mailops writes into the record.
const MAX_URL: usize = 1024;

/// Why a BIMI URL is refused.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err("a BIMI URL must start with `https://`".into());
    };
    if url.len() > MAX_URL {
        return Err(format!("the URL is longer than {MAX_URL} characters"));
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => return Err("the URL names no file (write the path after the host)".into()),
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty()
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().is_err()
            {
                return Err(format!("`{port}` is not a port"));
            }
            host
        }
        None => authority,
    };
    if !is_host_name(host) {
        return Err(format!(
            "`{host}` is not a host name (letters, digits and hyphens in dot-separated labels; write an IDN as its xn-- form)"
        ));
    }
    if path == "/" {
        return Err("the URL names no file (write the path after the host)".into());
    }
    let mut bytes = path.bytes().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b';' | b',' => {
                return Err(format!(
                    "`{}` separates the record's tags and URLs: write it as {}",
                    b as char,
                    if b == b';' { "%3B" } else { "%2C" }
                ));
            }
            b'#' => return Err("a URL with a `#fragment` is not a file".into()),
            b'%' => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err("`%` must start a percent-escape such as `%20`".into());
                }
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
            b'-' | b'.' | b'_' | b'~' | b'/' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' => {}
            b'*' | b'+' | b'=' | b':' | b'@' | b'?' => {}
            other => {
                return Err(if other.is_ascii_graphic() {
                    format!("`{}` must be percent-escaped in a URL", other as char)
                } else {
                    "spaces, control characters and non-ASCII characters must be percent-escaped in a URL".into()
                });
            }
        }
    }
    Ok(())
}

/// A DNS host name: dot-separated labels of letters, digits and hyphens.
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Why receivers would not show a logo under this DMARC policy, if they would not.
pub(crate) fn dmarc_problem(dmarc: &Dmarc) -> Option<String> {
    if dmarc.policy == "none" {
        return Some(
            "the domain's DMARC policy is `none`: receivers show a BIMI logo only under `quarantine` or `reject`".into(),
        );
    }
    if let Some(pct) = dmarc.pct.filter(|&pct| pct < 100) {
        return Some(format!(
            "the domain's DMARC policy applies to {pct} % of its mail (`pct`): receivers show a BIMI logo only when it applies to all of it"
        ));
    }
    if dmarc.subdomain_policy.as_deref() == Some("none") {
        return Some(
            "the domain's DMARC subdomain policy is `none`: receivers show a BIMI logo only when no policy of the domain is `none`".into(),
        );
    }
    None
}

/// One way an SVG breaks the Tiny PS profile, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SvgProblem {
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) problem: String,
}

/// Elements SVG Tiny PS leaves out: code, animation, embedded documents
/// and raster images.
const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script",
    "foreignObject",
    "image",
    "video",
    "audio",
    "iframe",
    "animate",
    "animateColor",
    "animateMotion",
    "animateTransform",
    "set",
];

const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

/// Every way `text` breaks the SVG Tiny PS rules receivers check, in
/// document order (none: it passes).
pub(crate) fn check_svg(text: &[u8]) -> Vec<SvgProblem> {
    let mut problems = Vec::new();
    if text.len() > MAX_SVG_BYTES {
        problems.push(SvgProblem {
            line: 1,
            column: 1,
            problem: format!(
                "the file is {} bytes; receivers accept at most {MAX_SVG_BYTES}",
                text.len()
            ),
        });
    }
    let Ok(text) = std::str::from_utf8(text) else {
        problems.push(SvgProblem {
            line: 1,
            column: 1,
            problem: "the file is not UTF-8".into(),
        });
        return problems;
    };
    // No DTD (roxmltree refuses one by default): entity tricks stay out.
    let doc = match roxmltree::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let pos = e.pos();
            problems.push(SvgProblem {
                line: pos.row,
                column: pos.col,
                problem: format!("not well-formed XML: {e}"),
            });
            return problems;
        }
    };
    let at = |node: roxmltree::Node<'_, '_>, problem: String| {
        let pos = doc.text_pos_at(node.range().start);
        SvgProblem {
            line: pos.row,
            column: pos.col,
            problem,
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some(SVG_NAMESPACE) {
        problems.push(at(
            root,
            format!("the root element must be `<svg xmlns=\"{SVG_NAMESPACE}\">`"),
        ));
        return problems;
    }
    if root.attribute("baseProfile") != Some("tiny-ps") {
        problems.push(at(
            root,
            "the root `<svg>` must have `baseProfile=\"tiny-ps\"`".into(),
        ));
    }
    if root.attribute("version") != Some("1.2") {
        problems.push(at(
            root,
            "the root `<svg>` must have `version=\"1.2\"`".into(),
        ));
    }
    for attribute in ["x", "y"] {
        if root.attribute(attribute).is_some() {
            problems.push(at(
                root,
                format!("the root `<svg>` must not have an `{attribute}` attribute"),
            ));
        }
    }
    match root.attribute("viewBox").map(view_box) {
        None => problems.push(at(
            root,
            "the root `<svg>` needs a square `viewBox` (e.g. `viewBox=\"0 0 100 100\"`)".into(),
        )),
        Some(None) => problems.push(at(
            root,
            "`viewBox` must be four numbers: min-x min-y width height".into(),
        )),
        Some(Some((width, height))) if width != height || width <= 0.0 => problems.push(at(
            root,
            format!("the `viewBox` is {width} × {height}: a BIMI logo is square"),
        )),
        Some(Some(_)) => {}
    }
    let has_title = root.children().any(|child| {
        child.is_element()
            && child.tag_name().name() == "title"
            && !child.text().unwrap_or("").trim().is_empty()
    });
    if !has_title {
        problems.push(at(
            root,
            "the root `<svg>` needs a `<title>` with the brand's name".into(),
        ));
    }
    for node in root.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        if FORBIDDEN_ELEMENTS.contains(&name) {
            problems.push(at(
                node,
                format!("`<{name}>` is not allowed in SVG Tiny PS"),
            ));
        }
        if name == "style"
            && let Some(reason) = node.text().and_then(external_reference)
        {
            problems.push(at(node, format!("the style sheet {reason}")));
        }
        for attribute in node.attributes() {
            let local = attribute.name();
            if local.starts_with("on") {
                problems.push(at(
                    node,
                    format!("the event handler `{local}` is script: not allowed in SVG Tiny PS"),
                ));
            } else if local == "href" && !attribute.value().starts_with('#') {
                problems.push(at(
                    node,
                    format!(
                        "`href=\"{}\"` refers outside the file: only `#id` references are allowed",
                        attribute.value()
                    ),
                ));
            } else if let Some(reason) = external_reference(attribute.value()) {
                problems.push(at(node, format!("`{local}` {reason}")));
            }
        }
    }
    problems
}

/// The width and height of a `viewBox` value.
fn view_box(value: &str) -> Option<(f64, f64)> {
    let numbers: Vec<f64> = value
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match numbers[..] {
        [_, _, width, height] if width.is_finite() && height.is_finite() => Some((width, height)),
        _ => None,
    }
}

/// Why a CSS text refers outside the file (`url(…)` to anything but `#id`,
/// `@import`), if it does.
fn external_reference(css: &str) -> Option<String> {
    if css.contains("@import") {
        return Some("imports another style sheet: not allowed in SVG Tiny PS".into());
    }
    let mut rest = css;
    while let Some(at) = rest.find("url(") {
        let target = rest[at + 4..].trim_start_matches([' ', '"', '\'']);
        if !target.starts_with('#') {
            let shown: String = target.chars().take_while(|&c| c != ')').take(60).collect();
            return Some(format!(
                "refers to `{shown}` outside the file: only `url(#id)` references are allowed"
            ));
        }
        rest = &rest[at + 4..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">
  <title>Acme</title>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/></linearGradient></defs>
  <circle cx="50" cy="50" r="40" fill="url(#g)"/>
  <use href="#g"/>
</svg>
"##;

    fn problems(svg: &str) -> Vec<String> {
        check_svg(svg.as_bytes())
            .into_iter()
            .map(|p| format!("{}:{} {}", p.line, p.column, p.problem))
            .collect()
    }

    #[test]
    fn a_tiny_ps_logo_passes() {
        assert_eq!(problems(GOOD), Vec::<String>::new());
    }

    #[test]
    fn each_tiny_ps_rule_is_checked_where_it_is_broken() {
        let bad = GOOD
            .replace("baseProfile=\"tiny-ps\"", "baseProfile=\"tiny\" x=\"0\"")
            .replace("0 0 100 100", "0 0 100 50")
            .replace("<title>Acme</title>", "<script>alert(1)</script>")
            .replace("url(#g)", "url(https://evil.example/x)")
            .replace(
                "href=\"#g\"",
                "href=\"https://evil.example/a.svg\" onload=\"x()\"",
            );
        let found = problems(&bad);
        let expect = [
            "1:1 the root `<svg>` must have `baseProfile=\"tiny-ps\"`",
            "1:1 the root `<svg>` must not have an `x` attribute",
            "1:1 the `viewBox` is 100 × 50: a BIMI logo is square",
            "1:1 the root `<svg>` needs a `<title>` with the brand's name",
            "2:3 `<script>` is not allowed in SVG Tiny PS",
            "4:3 `fill` refers to `https://evil.example/x` outside the file",
            "5:3 `href=\"https://evil.example/a.svg\"` refers outside the file",
            "5:3 the event handler `onload` is script",
        ];
        for want in expect {
            assert!(
                found.iter().any(|f| f.starts_with(want)),
                "{want}\n{found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn a_doctype_is_refused_so_no_entity_expands() {
        let svg = format!("<!DOCTYPE svg [<!ENTITY a \"aaaa\">]>\n{GOOD}");
        let found = problems(&svg);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("not well-formed XML"), "{found:#?}");
    }

    #[test]
    fn size_style_imports_and_root_element() {
        let big = GOOD.replace(
            "<title>",
            &format!("<!-- {} --><title>", "x".repeat(MAX_SVG_BYTES)),
        );
        assert!(problems(&big)[0].contains("receivers accept at most 32768"));
        let styled = GOOD.replace(
            "<defs>",
            "<style>@import url(https://x.example/a.css);</style><defs>",
        );
        assert!(problems(&styled)[0].contains("imports another style sheet"));
        let html = "<html xmlns=\"http://www.w3.org/1999/xhtml\"/>";
        assert!(problems(html)[0].contains("the root element must be"));
        assert!(problems("<svg")[0].contains("not well-formed XML"));
    }

    #[test]
    fn urls() {
        for good in [
            "https://acme.example/logo.svg",
            "https://cdn.acme.example:8443/brand/logo%20v2.svg?v=3",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("http://acme.example/logo.svg", "https://"),
            ("https://acme.example", "names no file"),
            ("https://acme.example/", "names no file"),
            ("https://acme.example/a;b.svg", "%3B"),
            ("https://acme.example/a,b.svg", "%2C"),
            ("https://acme.example/a b.svg", "percent-escaped"),
            ("https://acme.example/a\"b.svg", "percent-escaped"),
            ("https://acme.example/a%zz.svg", "percent-escape"),
            ("https://user@acme.example/a.svg", "not a host name"),
            ("https://acme.example:99999/a.svg", "not a port"),
            ("https://acme.example/a.svg#x", "fragment"),
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn dmarc_policies_that_hide_the_logo() {
        let mut dmarc = Dmarc::default();
        assert_eq!(dmarc.policy, "quarantine");
        assert_eq!(dmarc_problem(&dmarc), None);
        dmarc.pct = Some(100);
        assert_eq!(dmarc_problem(&dmarc), None);
        dmarc.pct = Some(50);
        assert!(dmarc_problem(&dmarc).unwrap().contains("50 %"));
        dmarc.pct = None;
        dmarc.subdomain_policy = Some("none".into());
        assert!(dmarc_problem(&dmarc).unwrap().contains("subdomain"));
        dmarc.subdomain_policy = None;
        dmarc.policy = "none".into();
        assert!(dmarc_problem(&dmarc).unwrap().contains("`none`"));
    }
}
