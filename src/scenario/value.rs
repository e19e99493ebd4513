//! A RON value as given to `--set` or in a sweep axis, read into serde's data model (as JSON) in
//! the shapes the scenario types expect: a struct `(a: 1)` is an object, a list `[..]` an array,
//! a unit variant or one-word string `Retired` a string, and a variant with content
//! `Fixed(rate: 0.01)` / `Fixed(4)` / `Pair(1, 2)` a one-key object `{"Fixed": ..}`, at any depth
//! (`(fee_policy: Fixed(rate: 0.01), producer_reward_per_block: 0.05)`).
//!
//! Nesting is bounded ([`MAX_DEPTH`]) and the parser is iterative over the text, so a value of
//! any length or depth is an error message, never a stack overflow.

use serde_json::{Map, Number, Value};

/// The deepest nesting of brackets a value may have (scenario values need fewer than ten).
pub const MAX_DEPTH: usize = 64;

/// The longest value text read.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Parses `text` as one RON value.
pub fn parse(text: &str) -> Result<Value, String> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(format!("the value is {} bytes long; at most {} KiB", text.len(), MAX_VALUE_BYTES >> 10));
    }
    let t = text.trim();
    // A path or one-word string (`double-auction`, `data/load.csv`) needs no quotes.
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | ':' | '+')) {
        if let Some(v) = number(t).or_else(|| keyword(t)) {
            return Ok(v);
        }
        if t.parse::<f64>().is_ok_and(|x| !x.is_finite()) {
            return Err(format!("`{}` is not a finite number", clip(t)));
        }
        return Ok(Value::String(t.to_string()));
    }
    let mut p = Parser { text: t, at: 0 };
    let v = p.value(0)?;
    p.skip_space();
    if p.at < t.len() {
        return Err(p.error("unexpected text after the value"));
    }
    Ok(v)
}

fn number(word: &str) -> Option<Value> {
    let w = word.strip_prefix('+').unwrap_or(word);
    if !w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
        return None;
    }
    if let Ok(i) = w.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    if let Ok(u) = w.parse::<u64>() {
        return Some(Value::Number(u.into()));
    }
    w.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
}

fn keyword(word: &str) -> Option<Value> {
    match word {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "None" | "null" => Some(Value::Null),
        _ => None,
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        let shown: String = self.text[self.at..].chars().take(20).collect();
        if shown.is_empty() { format!("{what} at the end of `{}`", clip(self.text)) } else { format!("{what} at `{shown}` (character {})", self.text[..self.at].chars().count() + 1) }
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A word: identifier or number characters.
    fn word(&mut self) -> &str {
        let start = self.at;
        let rest = &self.text[start..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '+'))).unwrap_or(rest.len());
        self.at += len;
        &self.text[start..start + len]
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the value is nested more than {MAX_DEPTH} levels deep"));
        }
        self.skip_space();
        match self.peek() {
            None => Err(self.error("a value is missing")),
            Some('"') => self.string(),
            Some('[') => {
                self.at += 1;
                Ok(Value::Array(self.items(']', depth)?))
            }
            Some('(') => {
                self.at += 1;
                // A bare `()` is a struct with all its defaults (`losses: ()`), not `None`.
                Ok(match self.parenthesised(depth)? {
                    Value::Null => Value::Object(Map::new()),
                    v => v,
                })
            }
            Some('{') => {
                self.at += 1;
                self.map(depth)
            }
            Some(c) if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.') => {
                let start = self.at;
                let word = self.word().to_string();
                if let Some(v) = number(&word).or_else(|| keyword(&word)) {
                    return Ok(v);
                }
                if !word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    self.at = start;
                    return Err(self.error("not a number nor a name"));
                }
                if !self.eat('(') {
                    return Ok(Value::String(word));
                }
                let content = self.parenthesised(depth)?;
                if word == "Some" {
                    return Ok(content);
                }
                Ok(Value::Object(Map::from_iter([(word, content)])))
            }
            Some(_) => Err(self.error("not a value")),
        }
    }

    /// After `(`: `a: 1, b: 2)` is a struct, `x)` one value, `x, y)` a tuple, `)` a unit.
    fn parenthesised(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_space();
        let start = self.at;
        let named = {
            let w = self.word().to_string();
            let is_field = !w.is_empty() && w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && {
                self.skip_space();
                self.peek() == Some(':')
            };
            self.at = start;
            is_field
        };
        if !named {
            let mut items = self.items(')', depth)?;
            return Ok(match items.len() {
                0 => Value::Null,
                1 => items.pop().expect("one item"),
                _ => Value::Array(items),
            });
        }
        let mut fields = Map::new();
        loop {
            if self.eat(')') {
                return Ok(Value::Object(fields));
            }
            self.skip_space();
            let name = self.word().to_string();
            if name.is_empty() || !self.eat(':') {
                return Err(self.error("expected `field: value`"));
            }
            let v = self.value(depth + 1)?;
            if fields.insert(name.clone(), v).is_some() {
                return Err(format!("field `{name}` is given twice"));
            }
            if !self.eat(',') {
                if self.eat(')') {
                    return Ok(Value::Object(fields));
                }
                return Err(self.error("expected `,` or `)`"));
            }
        }
    }

    fn items(&mut self, close: char, depth: usize) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                if self.eat(close) {
                    return Ok(items);
                }
                return Err(self.error(&format!("expected `,` or `{close}`")));
            }
        }
    }

    fn map(&mut self, depth: usize) -> Result<Value, String> {
        let mut entries = Map::new();
        loop {
            if self.eat('}') {
                return Ok(Value::Object(entries));
            }
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                _ => return Err(self.error("a map key is a string or a number")),
            };
            if !self.eat(':') {
                return Err(self.error("expected `:`"));
            }
            let v = self.value(depth + 1)?;
            entries.insert(key, v);
            if !self.eat(',') {
                if self.eat('}') {
                    return Ok(Value::Object(entries));
                }
                return Err(self.error("expected `,` or `}`"));
            }
        }
    }

    /// A quoted string with JSON's escapes.
    fn string(&mut self) -> Result<Value, String> {
        let rest = &self.text[self.at..];
        let mut escaped = false;
        let end = rest.char_indices().skip(1).find_map(|(i, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes.then_some(i)
        });
        let Some(end) = end else { return Err(self.error("unclosed string")) };
        let quoted = &rest[..=end];
        let s: String = serde_json::from_str(quoted).map_err(|e| format!("string {}: {e}", clip(quoted)))?;
        self.at += end + 1;
        Ok(Value::String(s))
    }
}

/// At most 60 characters of `text`, for messages.
fn clip(text: &str) -> String {
    if text.chars().count() <= 60 { text.to_string() } else { format!("{}…", text.chars().take(60).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_scenario_shapes() {
        assert_eq!(parse("0.4").unwrap(), json!(0.4));
        assert_eq!(parse("-3").unwrap(), json!(-3));
        assert_eq!(parse("1e3").unwrap(), json!(1000.0));
        assert_eq!(parse("double-auction").unwrap(), json!("double-auction"));
        assert_eq!(parse("\"a b\"").unwrap(), json!("a b"));
        assert_eq!(parse("Fixed(4)").unwrap(), json!({"Fixed": 4}));
        assert_eq!(parse("Uniform(min: 1, max: 2)").unwrap(), json!({"Uniform": {"min": 1, "max": 2}}));
        assert_eq!(parse("Archetype(kind: Retired)").unwrap(), json!({"Archetype": {"kind": "Retired"}}));
        assert_eq!(
            parse("(fee_policy: Fixed(rate: 0.01), producer_reward_per_block: 0.05)").unwrap(),
            json!({"fee_policy": {"Fixed": {"rate": 0.01}}, "producer_reward_per_block": 0.05})
        );
        assert_eq!(parse("[1, 2,]").unwrap(), json!([1, 2]));
        assert_eq!(parse("(a: Some(3), b: None, c: [ClearSky, true])").unwrap(), json!({"a": 3, "b": null, "c": ["ClearSky", true]}));
        assert_eq!(parse("{\"x\": 1}").unwrap(), json!({"x": 1}));
        assert_eq!(parse("Pair(1, 2)").unwrap(), json!({"Pair": [1, 2]}));
        assert_eq!(parse("null").unwrap(), json!(null));
        assert!(parse("1e400").unwrap_err().contains("not a finite number"));
    }

    #[test]
    fn bad_values_are_messages() {
        for bad in ["(a: 1", "(a 1)", "[1 2]", "\"open", "(a: 1, a: 2)", "Fixed(4))", "@", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}1{}", "A(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested more than 64"));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested"));
        assert!(parse(&"x".repeat(MAX_VALUE_BYTES + 1)).unwrap_err().contains("at most"));
        let at = parse("(a: 1, b: é)").unwrap_err();
        assert!(at.contains("é"), "{at}");
    }
}
