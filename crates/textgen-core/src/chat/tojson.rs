//! `tojson` as transformers defines it for chat templates: Python's `json.dumps(x, ensure_ascii=False,
//! indent=None, separators=None, sort_keys=False)`, byte for byte (Jinja2's own filter escapes HTML).

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};
use std::fmt::Write;

/// How `json.dumps` lays values out.
struct Style {
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
    ensure_ascii: bool,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The filter: `x | tojson(indent=2, sort_keys=true, ensure_ascii=false, separators=[",", ":"])`.
pub fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => Some(match v.as_str() {
            Some(s) => s.to_string(),
            None => " ".repeat(usize::try_from(v).map_err(|_| bad("tojson: bad indent"))?),
        }),
    };
    let (item_sep, key_sep) = match kwargs.get::<Option<Vec<String>>>("separators")? {
        Some(seps) => match <[String; 2]>::try_from(seps) {
            Ok([item, key]) => (item, key),
            Err(_) => return Err(bad("tojson: separators must be two strings")),
        },
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    let style = Style {
        indent,
        item_sep,
        key_sep,
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false),
        ensure_ascii: kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_value(&mut out, value, &style, 0)?;
    Ok(Value::from(out))
}

fn newline(out: &mut String, style: &Style, level: usize) {
    if let Some(ind) = &style.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn write_value(out: &mut String, v: &Value, style: &Style, level: usize) -> Result<(), Error> {
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => write_number(out, v)?,
        ValueKind::String => write_string(out, v.as_str().unwrap_or_default(), style.ensure_ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            write_container(out, style, level, ('[', ']'), &items, |out, item, level| {
                write_value(out, item, style, level)
            })?;
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in v.try_iter()? {
                let text = match key.kind() {
                    ValueKind::String => key.as_str().unwrap_or_default().to_string(),
                    ValueKind::Number | ValueKind::Bool | ValueKind::None => {
                        let mut s = String::new();
                        write_value(&mut s, &key, style, level)?;
                        s
                    }
                    _ => return Err(bad("tojson: keys must be strings or numbers")),
                };
                entries.push((text, v.get_item(&key)?));
            }
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_container(
                out,
                style,
                level,
                ('{', '}'),
                &entries,
                |out, (k, item), level| {
                    write_string(out, k, style.ensure_ascii);
                    out.push_str(&style.key_sep);
                    write_value(out, item, style, level)
                },
            )?;
        }
        _ => {
            return Err(bad(format!(
                "tojson: cannot serialize a value of type {}",
                v.kind()
            )))
        }
    }
    Ok(())
}

fn write_container<T>(
    out: &mut String,
    style: &Style,
    level: usize,
    (open, close): (char, char),
    items: &[T],
    mut write_item: impl FnMut(&mut String, &T, usize) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    if !items.is_empty() {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(&style.item_sep);
            }
            newline(out, style, level + 1);
            write_item(out, item, level + 1)?;
        }
        newline(out, style, level);
    }
    out.push(close);
    Ok(())
}

fn write_number(out: &mut String, v: &Value) -> Result<(), Error> {
    if let Ok(i) = i128::try_from(v.clone()) {
        let _ = write!(out, "{i}");
        return Ok(());
    }
    let x = f64::try_from(v.clone()).map_err(|_| bad("tojson: unsupported number"))?;
    out.push_str(&python_float(x));
    Ok(())
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside [1e-4, 1e16).
fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let s = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{s}")
    } else {
        let m = match digits.len() {
            1 => digits,
            _ => format!("{}.{}", &digits[..1], &digits[1..]),
        };
        format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

fn write_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(src: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_filter("tojson", tojson);
        env.render_str(src, ()).unwrap()
    }

    // Expected strings are Python 3's json.dumps output for the same values.
    #[test]
    fn matches_python_json_dumps() {
        assert_eq!(
            dumps(r#"{{ {"a": [1, 2.5, none, true], "é": "x<y>\"\n"} | tojson }}"#),
            r#"{"a": [1, 2.5, null, true], "é": "x<y>\"\n"}"#
        );
        assert_eq!(
            dumps(r#"{{ {"b": 1, "a": [], "c": {}} | tojson(indent=2, sort_keys=true) }}"#),
            "{\n  \"a\": [],\n  \"b\": 1,\n  \"c\": {}\n}"
        );
        assert_eq!(
            dumps(r#"{{ ["é", "\u0001"] | tojson(ensure_ascii=true, separators=[",", ":"]) }}"#),
            r#"["\u00e9","\u0001"]"#
        );
    }

    #[test]
    fn floats_are_python_reprs() {
        for (x, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-123.25, "-123.25"),
            (1234567890123456.0, "1234567890123456.0"),
        ] {
            assert_eq!(python_float(x), want, "{x}");
        }
    }
}
