//! Python source as HTML with its keywords, strings, comments, numbers and decorators in
//! `<span class="...">`: enough for reading a service on its page, with no script needed.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "self",
];

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    escape_into(out, text);
    out.push_str("</span>");
}

/// The end (byte index) of a string literal starting at `start` with its quote(s).
fn string_end(src: &str, start: usize) -> usize {
    let rest = &src[start..];
    let quote = if rest.starts_with("\"\"\"") {
        "\"\"\""
    } else if rest.starts_with("'''") {
        "'''"
    } else if rest.starts_with('"') {
        "\""
    } else {
        "'"
    };
    let mut i = start + quote.len();
    let bytes = src.as_bytes();
    while i < src.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(quote.as_bytes()) {
            return i + quote.len();
        }
        if quote.len() == 1 && bytes[i] == b'\n' {
            return i;
        }
        i += 1;
    }
    src.len()
}

/// The highlighted HTML of `src` (everything escaped).
pub fn python(src: &str) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let c = bytes[i];
        if c == b'#' {
            let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
            span(&mut out, "c", &src[i..end]);
            i = end;
        } else if c == b'"' || c == b'\'' {
            let end = string_end(src, i).min(src.len());
            span(&mut out, "s", &src[i..end]);
            i = end;
        } else if c == b'@' && (i == 0 || bytes[i - 1] == b'\n' || bytes[i - 1] == b' ') {
            let end = src[i..]
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '@'))
                .map_or(src.len(), |n| i + n);
            span(&mut out, "d", &src[i..end]);
            i = end;
        } else if c.is_ascii_digit() {
            let end = src[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_'))
                .map_or(src.len(), |n| i + n);
            span(&mut out, "n", &src[i..end]);
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let end = src[i..]
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .map_or(src.len(), |n| i + n);
            let word = &src[i..end];
            // A prefixed literal: f"...", rb'...'.
            let next = bytes.get(end).copied();
            if word.len() <= 2
                && word.chars().all(|ch| "rRbBfFuU".contains(ch))
                && matches!(next, Some(b'"' | b'\''))
            {
                let s_end = string_end(src, end);
                span(&mut out, "s", &src[i..s_end]);
                i = s_end;
                continue;
            }
            if KEYWORDS.contains(&word) {
                span(&mut out, "k", word);
            } else {
                escape_into(&mut out, word);
            }
            i = end;
        } else {
            let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
            escape_into(&mut out, &src[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_and_escapes() {
        let html = python("class A(Service):\n    # <b>\n    x = \"</script>\" + f'{y}' + 1\n");
        assert!(html.contains("<span class=\"k\">class</span>"));
        assert!(html.contains("<span class=\"c\"># &lt;b&gt;</span>"));
        assert!(html.contains("<span class=\"s\">&quot;&lt;/script&gt;&quot;</span>"));
        assert!(html.contains("<span class=\"s\">f&#39;{y}&#39;</span>"));
        assert!(html.contains("<span class=\"n\">1</span>"));
        assert!(!html.contains("</script>"));
        // Unterminated strings and odd bytes end without a panic.
        python("'abc\n\"\"\"never ends é");
    }
}
