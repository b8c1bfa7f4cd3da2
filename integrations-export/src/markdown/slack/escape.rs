//! Escaping `&`, `<` and `>` for mrkdwn, keeping Slack's own forms.

/// Escapes `&`, `<` and `>`, keeping Slack's own `<...>` forms (the
/// broadcasts `<!here>`, `<!channel>`, `<!everyone>` only if `broadcasts`).
pub(super) fn escape(text: &str, broadcasts: bool) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, broadcasts);
    out
}

/// [`escape`], appending to `out`.
pub(super) fn escape_into(out: &mut String, text: &str, broadcasts: bool) {
    let mut rest = text;
    while let Some(at) = memchr::memchr3(b'&', b'<', b'>', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with('<')
            && let Some(form) = slack_form(tail, broadcasts)
        {
            out.push_str(form);
            rest = &tail[form.len()..];
            continue;
        }
        out.push_str(match tail.as_bytes()[0] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &tail[1..];
    }
    out.push_str(rest);
}

/// A Slack form at the start of `text`: `<@U..>`, `<#C..|name>`,
/// `<!here>`, `<https://..|label>`, `<mailto:..>`. Looks no further than
/// the next `<` or newline, so escaping stays linear in the text.
fn slack_form(text: &str, broadcasts: bool) -> Option<&str> {
    let end = 1 + memchr::memchr3(b'>', b'<', b'\n', &text.as_bytes()[1..])?;
    if text.as_bytes()[end] != b'>' {
        return None;
    }
    let inner = &text[1..end];
    if inner.is_empty() {
        return None;
    }
    let (target, _label) = inner.split_once('|').unwrap_or((inner, ""));
    let id = |rest: &str| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric());
    let ok = match target.as_bytes()[0] {
        b'@' | b'#' => id(&target[1..]),
        b'!' => {
            (broadcasts || !matches!(&target[1..], "here" | "channel" | "everyone"))
                && target[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '^' | '-' | '_'))
        }
        _ => {
            ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| target.starts_with(scheme))
                && !target.contains(' ')
        }
    };
    ok.then_some(&text[..=end])
}
