//! A small YAML emitter for JSON values: block style, every string double-quoted (a
//! JSON string literal is a valid YAML double-quoted scalar), multi-line strings as
//! literal blocks so that templates stay readable.
//!
//! serde_yaml is unmaintained and its forks differ in quality; what the generators need
//! (maps, lists, strings, numbers) fits in this file and is pinned by its tests.

use serde_json::Value;

/// Renders `value` as a YAML document.
///
/// ```
/// let doc = voxscope_alert::yaml::to_string(&serde_json::json!({"groups": [{"name": "x"}]}));
/// assert_eq!(doc, "groups:\n  - name: \"x\"\n");
/// ```
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    // Sorted here, not by the map: serde_json's `preserve_order` feature, if any crate of
    // a build enables it, would otherwise change every generated file.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (key, value)) in entries.into_iter().enumerate() {
        // The first key of a list item continues the "- " line.
        if i > 0 || !out.ends_with("- ") {
            push_indent(out, indent);
        }
        out.push_str(&key_text(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&scalar_text(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key_text(key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain { key.to_owned() } else { quote(key) }
}

fn scalar_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, indent),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn string_text(s: &str, indent: usize) -> String {
    if !literal_block_fits(s) {
        return quote(s);
    }
    // "|" keeps exactly one final newline, "|-" none.
    let (body, header) = match s.strip_suffix('\n') {
        Some(body) => (body, "|"),
        None => (s, "|-"),
    };
    let mut text = header.to_owned();
    for line in body.split('\n') {
        text.push('\n');
        if !line.is_empty() {
            text.extend(std::iter::repeat_n(' ', indent));
            text.push_str(line);
        }
    }
    text
}

/// A literal block reproduces the string only if it has an inner line break, no trailing
/// blank lines or spaces, a first line that does not start with a space (that would need
/// an indentation indicator) and nothing YAML would fold or reject.
fn literal_block_fits(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    body.contains('\n')
        && !body.ends_with('\n')
        && !body.starts_with([' ', '\t', '\n'])
        && !s.chars().any(|c| c == '\r' || c == '\t' || (c.is_control() && c != '\n'))
        && body.split('\n').all(|line| !line.ends_with(' '))
}

fn quote(s: &str) -> String {
    // serde_json escapes exactly what a YAML double-quoted scalar needs escaped.
    Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_lists_indent_by_two() {
        let doc = to_string(&json!({
            "a": {"b": [1, {"c": "d", "e": [true, null]}], "empty": [], "none": {}},
        }));
        assert_eq!(
            doc,
            "a:\n  b:\n    - 1\n    - c: \"d\"\n      e:\n        - true\n        - null\n  \
             empty: []\n  none: {}\n"
        );
    }

    #[test]
    fn strings_are_quoted_so_yaml_never_retypes_them() {
        let doc = to_string(&json!({"v": "yes", "n": "1.0", "q": "say \"hi\"", "k": "#x"}));
        assert_eq!(doc, "k: \"#x\"\nn: \"1.0\"\nq: \"say \\\"hi\\\"\"\nv: \"yes\"\n");
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let doc = to_string(&json!({"t": "line one\n\n  indented\n", "u": "a\nb"}));
        assert_eq!(doc, "t: |\n  line one\n\n    indented\nu: |-\n  a\n  b\n");
    }

    #[test]
    fn strings_a_block_cannot_hold_stay_quoted() {
        for s in [" lead\nx", "trail \nx", "a\n\n", "tab\tx\ny", "single"] {
            assert!(to_string(&json!({ "s": s })).starts_with("s: \""), "{s:?}");
        }
    }

    #[test]
    fn odd_keys_are_quoted() {
        assert_eq!(to_string(&json!({"a b": 1, "1x": 2})), "\"1x\": 2\n\"a b\": 1\n");
    }
}
