//! The `filter` parameter (RFC 7644 §3.4.2.2), as identity providers use it: comparisons of
//! an attribute path (`userName`, `name.familyName`, `emails.value`, `members.value`) with a
//! value, joined by `and`. Operators: `eq`, `ne`, `co`, `sw`, `ew`, `pr`. Anything else is a
//! 400 `invalidFilter` that says what was not understood.
//!
//! Filters are matched against the resources as they are returned, so what a filter sees is
//! exactly what a reader sees. `id` and `externalId` compare case-exactly, everything else
//! without case (RFC 7643 marks `userName` and `displayName` caseExact false).

use axum::http::StatusCode;
use serde_json::Value;

use super::ScimError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Pr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The attribute path, lowercased, without a schema prefix.
    pub path: String,
    pub op: Op,
    pub value: Value,
}

/// Every condition must hold. Empty: everything matches.
pub type Filter = Vec<Condition>;

fn invalid(why: &str) -> ScimError {
    ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), why)
}

pub fn parse(text: Option<&str>) -> Result<Filter, ScimError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let tokens = tokenize(text)?;
    let mut conditions = Vec::new();
    let mut rest = tokens.as_slice();
    loop {
        let (path, after) = rest
            .split_first()
            .ok_or_else(|| invalid("an attribute is missing"))?;
        let path = match path {
            Token::Word(w) => w
                .rsplit_once(':')
                .map_or(w.as_str(), |(_, n)| n)
                .to_ascii_lowercase(),
            _ => return Err(invalid("a filter starts with an attribute name")),
        };
        let (op, after) = after
            .split_first()
            .ok_or_else(|| invalid("an operator is missing"))?;
        let op = match op {
            Token::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "co" => Op::Co,
                "sw" => Op::Sw,
                "ew" => Op::Ew,
                "pr" => Op::Pr,
                other => return Err(invalid(&format!("the operator {other:?} is not supported"))),
            },
            _ => return Err(invalid("an operator is missing")),
        };
        let (value, after) = if op == Op::Pr {
            (Value::Null, after)
        } else {
            let (value, after) = after
                .split_first()
                .ok_or_else(|| invalid("a value is missing"))?;
            let value = match value {
                Token::Text(t) => Value::String(t.clone()),
                Token::Word(w) => match w.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    number => number
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .ok_or_else(|| invalid(&format!("{w:?} is not a value")))?,
                },
            };
            (value, after)
        };
        conditions.push(Condition { path, op, value });
        match after.split_first() {
            None => return Ok(conditions),
            Some((Token::Word(w), more)) if w.eq_ignore_ascii_case("and") => rest = more,
            Some(_) => return Err(invalid("only `and` may join comparisons")),
        }
    }
}

#[derive(Debug)]
enum Token {
    Word(String),
    Text(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => return Err(invalid("an unfinished string")),
                    },
                    Some(c) => value.push(c),
                    None => return Err(invalid("an unfinished string")),
                }
            }
            tokens.push(Token::Text(value));
        } else if c == '(' || c == ')' || c == '[' || c == ']' {
            return Err(invalid("grouping and value filters are not supported"));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

/// Whether a resource (as returned) satisfies every condition.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    filter.iter().all(|c| holds(c, resource))
}

fn holds(condition: &Condition, resource: &Value) -> bool {
    let values = lookup(resource, &condition.path);
    let exact = matches!(condition.path.as_str(), "id" | "externalid");
    let text = |v: &Value| match v {
        Value::String(s) if exact => Some(s.clone()),
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let wanted = text(&condition.value);
    let test = |v: &Value| {
        let (Some(have), Some(want)) = (text(v), wanted.as_ref()) else {
            return false;
        };
        match condition.op {
            Op::Eq => have == *want,
            Op::Ne => have != *want,
            Op::Co => have.contains(want.as_str()),
            Op::Sw => have.starts_with(want.as_str()),
            Op::Ew => have.ends_with(want.as_str()),
            Op::Pr => true,
        }
    };
    match condition.op {
        Op::Pr => values
            .iter()
            .any(|v| !v.is_null() && *v != Value::String(String::new())),
        Op::Ne => values.is_empty() || values.iter().all(test),
        _ => values.iter().any(test),
    }
}

/// The values at a dotted path, case-insensitively; through arrays, every element's.
fn lookup(resource: &Value, path: &str) -> Vec<Value> {
    let mut current = vec![resource.clone()];
    for part in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            let Value::Object(map) = value else { continue };
            let Some((_, found)) = map.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(part))
            else {
                continue;
            };
            match found {
                Value::Array(items) => next.extend(items),
                other => next.push(other),
            }
        }
        current = next;
    }
    // A multi-valued complex attribute compared as a whole compares its `value`s.
    current
        .into_iter()
        .flat_map(|v| match v {
            Value::Object(mut map) => map.remove("value").into_iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Op, matches, parse};

    #[test]
    fn okta_style_filters_parse_and_match() {
        let filter = parse(Some(r#"userName eq "Ada@Example.com""#)).unwrap();
        assert_eq!(filter[0].op, Op::Eq);
        let ada = json!({"id": "7", "userName": "ada@example.com", "active": true,
                         "emails": [{"value": "ada@example.com", "primary": true}]});
        assert!(matches(&filter, &ada), "userName compares without case");
        let both = parse(Some(r#"emails.value sw "ada" and active eq true"#)).unwrap();
        assert!(matches(&both, &ada));
        let external = parse(Some(r#"externalId eq "X1""#)).unwrap();
        assert!(!matches(&external, &ada));
        assert!(matches(&parse(Some("id pr")).unwrap(), &ada));
    }

    #[test]
    fn what_is_not_understood_is_an_invalid_filter() {
        for bad in [
            r#"userName eq"#,
            r#"userName gt "a""#,
            r#"userName eq "a" or active eq true"#,
            r#"emails[type eq "work"]"#,
            r#"userName eq "unfinished"#,
        ] {
            let error = parse(Some(bad)).expect_err(bad);
            assert_eq!(error.scim_type, Some("invalidFilter"), "{bad}");
        }
    }
}
