//! The subset of Auth0's user search syntax (`q`, search engine v3, Lucene) the dev tenant
//! understands, evaluated over a user's Management API JSON.
//!
//! - Terms are `field:value` or `field:"quoted value"`. In both, a backslash makes the next
//!   character literal (`a\ b`, `\*`, `\"`, `\\`). An unquoted value must escape the reserved
//!   characters `" : * ? ( ) { } [ ] ^ ~ / \` and whitespace; `+ - ! & |` are literal in it.
//! - An unescaped trailing `*` on an unquoted value is a prefix match; `field:*` matches when
//!   the field exists. Other wildcards, ranges, fuzzy and boosts are syntax errors.
//! - `AND`, `OR`, `NOT` and parentheses; `NOT` binds tightest, then `AND`, then `OR`.
//!   Juxtaposed terms (`a:1 b:2`) are joined with `AND` (Lucene's default is `OR`; the dev
//!   tenant takes the narrower reading).
//! - Fields: `email`, `username`, `nickname`, `name`, `given_name`, `family_name`,
//!   `user_id`, `phone_number`, `identities.connection`, `email_verified`, `blocked`,
//!   `app_metadata.<path>`, `user_metadata.<path>` (dotted). An array matches when any
//!   element does. Strings compare case-insensitively.

use serde_json::Value;
use std::iter::Peekable;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Query {
    Term { field: String, pattern: Pattern },
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
}

/// A term's value, lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    Exact(String),
    Prefix(String),
    Exists,
}

#[derive(Debug, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Term(String, Pattern),
}

const FIELDS: &[&str] = &[
    "email",
    "username",
    "nickname",
    "name",
    "given_name",
    "family_name",
    "user_id",
    "phone_number",
    "identities.connection",
    "email_verified",
    "blocked",
];

/// Characters an unquoted value must escape.
const RESERVED: &[char] = &['"', ':', '?', '{', '}', '[', ']', '^', '~', '/'];

/// Bounds on a query's size, so that parsing and evaluation stay shallow.
const MAX_TOKENS: usize = 1000;
const MAX_DEPTH: usize = 32;

/// Parse a non-empty `q`; the error says what is wrong, for "Query validation error: …".
pub(crate) fn parse(q: &str) -> Result<Query, String> {
    let tokens = tokenize(q)?;
    if tokens.len() > MAX_TOKENS {
        return Err("the query has too many terms".into());
    }
    let mut parser = Parser { tokens: tokens.into_iter().peekable(), depth: 0 };
    let query = parser.or_expr()?;
    match parser.tokens.next() {
        None => Ok(query),
        Some(Token::Close) => Err("unbalanced ')'".into()),
        Some(_) => Err("unexpected token".into()),
    }
}

/// Whether the user (as the Management API shows it) matches.
pub(crate) fn matches(query: &Query, user: &Value) -> bool {
    match query {
        Query::And(a, b) => matches(a, user) && matches(b, user),
        Query::Or(a, b) => matches(a, user) || matches(b, user),
        Query::Not(a) => !matches(a, user),
        Query::Term { field, pattern } => {
            let values = lookup(user, field);
            match pattern {
                Pattern::Exists => !values.is_empty(),
                Pattern::Exact(want) => values.into_iter().filter_map(text).any(|t| t == *want),
                Pattern::Prefix(want) => values.into_iter().filter_map(text).any(|t| t.starts_with(want.as_str())),
            }
        }
    }
}

fn known_field(field: &str) -> bool {
    let metadata = ["app_metadata.", "user_metadata."]
        .iter()
        .filter_map(|p| field.strip_prefix(p))
        .any(|path| path.split('.').all(|key| !key.is_empty()));
    metadata || FIELDS.contains(&field)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn ends_term(chars: &[char], i: usize) -> bool {
    chars.get(i).is_none_or(|&c| c.is_whitespace() || c == '(' || c == ')')
}

fn tokenize(q: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            _ => {
                let start = i;
                while chars.get(i).is_some_and(|&c| is_name_char(c)) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let operator = match word.as_str() {
                    "AND" => Some(Token::And),
                    "OR" => Some(Token::Or),
                    "NOT" => Some(Token::Not),
                    _ => None,
                };
                if let Some(op) = operator.filter(|_| ends_term(&chars, i)) {
                    out.push(op);
                    continue;
                }
                if word.is_empty() || chars.get(i) != Some(&':') {
                    return Err(format!("expected field:value at position {start}"));
                }
                if !known_field(&word) {
                    return Err(format!("unknown field {word}"));
                }
                let (pattern, next) = value(&chars, i + 1)?;
                out.push(Token::Term(word, pattern));
                i = next;
            }
        }
    }
    Ok(out)
}

/// The value starting at `chars[i]` and the position after it.
fn value(chars: &[char], mut i: usize) -> Result<(Pattern, usize), String> {
    let mut text = String::new();
    if chars.get(i) == Some(&'"') {
        i += 1;
        loop {
            match chars.get(i) {
                None => return Err("unterminated quoted value".into()),
                Some('"') => break,
                Some('\\') => {
                    text.push(*chars.get(i + 1).ok_or("dangling escape character")?);
                    i += 2;
                }
                Some(&c) => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        i += 1;
        if !ends_term(chars, i) {
            return Err(format!("unexpected character after a quoted value at position {i}"));
        }
        return Ok((Pattern::Exact(text.to_lowercase()), i));
    }
    let mut prefix = false;
    while !ends_term(chars, i) {
        if prefix {
            return Err("a wildcard is only supported at the end of a value".into());
        }
        match chars[i] {
            '\\' => {
                text.push(*chars.get(i + 1).ok_or("dangling escape character")?);
                i += 2;
                continue;
            }
            '*' => prefix = true,
            c if RESERVED.contains(&c) => return Err(format!("unescaped reserved character {c} at position {i}")),
            c => text.push(c),
        }
        i += 1;
    }
    let text = text.to_lowercase();
    match (text.is_empty(), prefix) {
        (true, true) => Ok((Pattern::Exists, i)),
        (true, false) => Err("a term has no value".into()),
        (false, true) => Ok((Pattern::Prefix(text), i)),
        (false, false) => Ok((Pattern::Exact(text), i)),
    }
}

struct Parser {
    tokens: Peekable<std::vec::IntoIter<Token>>,
    depth: usize,
}

impl Parser {
    fn or_expr(&mut self) -> Result<Query, String> {
        let mut left = self.and_expr()?;
        while self.tokens.next_if_eq(&Token::Or).is_some() {
            left = Query::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Query, String> {
        let mut left = self.unary()?;
        loop {
            let explicit = self.tokens.next_if_eq(&Token::And).is_some();
            if explicit || matches!(self.tokens.peek(), Some(Token::Not | Token::Open | Token::Term(..))) {
                left = Query::And(Box::new(left), Box::new(self.unary()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Query, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the query is nested too deeply".into());
        }
        let query = match self.tokens.next() {
            Some(Token::Not) => Query::Not(Box::new(self.unary()?)),
            Some(Token::Open) => {
                let inner = self.or_expr()?;
                if self.tokens.next() != Some(Token::Close) {
                    return Err("missing ')'".into());
                }
                inner
            }
            Some(Token::Term(field, pattern)) => Query::Term { field, pattern },
            Some(Token::Close) => return Err("unexpected ')'".into()),
            Some(Token::And | Token::Or) => return Err("an operator is missing an operand".into()),
            None => return Err("unexpected end of query".into()),
        };
        self.depth -= 1;
        Ok(query)
    }
}

/// Every non-null value at the dotted `path`, arrays spread out on the way and at the end.
fn lookup<'a>(user: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![user];
    for key in path.split('.') {
        current = current.into_iter().flat_map(spread).filter_map(|v| v.get(key)).collect();
    }
    current.into_iter().flat_map(spread).filter(|v| !v.is_null()).collect()
}

fn spread(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A scalar as lower-cased text (objects and arrays match no value).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users() -> Vec<Value> {
        vec![
            json!({"user_id": "auth0|1", "email": "John@Example.com", "username": "john", "blocked": false,
                   "identities": [{"connection": "db1"}], "app_metadata": {"groups": ["admins", "staff"]}}),
            json!({"user_id": "auth0|2", "email": "jane@example.com", "blocked": true,
                   "identities": [{"connection": "db2"}], "app_metadata": {"groups": ["staff"], "tier": {"level": 3}}}),
            json!({"user_id": "auth0|3", "email": "a OR email:*", "blocked": false,
                   "identities": [{"connection": "db1"}], "user_metadata": {"team": "x y"}}),
        ]
    }

    /// The numbers (`auth0|N`) of the users `q` matches.
    fn ids(q: &str) -> Vec<String> {
        let query = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        users()
            .iter()
            .filter(|u| matches(&query, u))
            .map(|u| u["user_id"].as_str().unwrap_or_default().trim_start_matches("auth0|").to_string())
            .collect()
    }

    #[test]
    fn quoted_values_take_escapes_literally() {
        let q = parse(r#"name:"Say \"hi\" \\ \: \*""#).unwrap();
        assert_eq!(q, Query::Term { field: "name".into(), pattern: Pattern::Exact(r#"say "hi" \ : *"#.into()) });
        assert_eq!(ids(r#"user_metadata.team:"x y""#), ["3"]);
        assert_eq!(ids(r"user_metadata.team:x\ y"), ["3"]);
    }

    #[test]
    fn a_quoted_query_lookalike_matches_only_itself() {
        assert_eq!(ids(r#"email:"a OR email:\*""#), ["3"]);
        assert_eq!(ids(r#"email:"a OR email:*""#), ["3"]);
        assert_eq!(ids(r"email:a\ OR\ email\:\*"), ["3"]);
    }

    #[test]
    fn fully_escaped_phrases_stay_literal() {
        let q = concat!(
            r#"(identities.connection:"db1" OR identities.connection:"db2") AND "#,
            r#"email:"a OR email\:\*" AND nickname:"x\"\) OR \(nickname\:\*""#,
        );
        assert_eq!(ids(q), Vec::<String>::new());
        assert_eq!(ids(r#"(identities.connection:"db1") AND email:"a OR email\:\*""#), ["3"]);
        assert_eq!(ids(r#"username:"a\\""#), Vec::<String>::new());
        assert_eq!(ids(r#"email:"john\@example\.com""#), ["1"]);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // a OR (b AND c): john (not blocked) matches through the first branch alone.
        assert_eq!(ids("email:john@example.com OR email:jane@example.com AND blocked:true"), ["1", "2"]);
        assert_eq!(ids("blocked:true AND email:jane@example.com OR username:john"), ["1", "2"]);
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(ids("(email:john@example.com OR email:jane@example.com) AND blocked:true"), ["2"]);
        assert_eq!(ids("NOT (identities.connection:db1 OR blocked:true)"), Vec::<String>::new());
        assert_eq!(ids("NOT identities.connection:db1"), ["2"]);
    }

    #[test]
    fn juxtaposition_is_and() {
        assert_eq!(ids("identities.connection:db1 blocked:false"), ["1", "3"]);
        assert_eq!(ids("app_metadata.groups:staff blocked:true"), ["2"]);
    }

    #[test]
    fn prefix_and_existence() {
        assert_eq!(ids("email:j*"), ["1", "2"]);
        assert_eq!(ids("email:JO*"), ["1"]);
        assert_eq!(ids(r"email:j\*"), Vec::<String>::new());
        assert_eq!(ids("email:*"), ["1", "2", "3"]);
        assert_eq!(ids("username:*"), ["1"]);
        assert_eq!(ids("user_metadata.team:*"), ["3"]);
    }

    #[test]
    fn fields_are_looked_up_generically() {
        assert_eq!(ids("app_metadata.groups:ADMINS"), ["1"]);
        assert_eq!(ids(r#"identities.connection:"db1" OR identities.connection:"db2""#), ["1", "2", "3"]);
        assert_eq!(ids("app_metadata.tier.level:3"), ["2"]);
        assert_eq!(ids("user_id:auth0\\|2"), ["2"]);
        assert_eq!(ids("email:JOHN@EXAMPLE.COM"), ["1"]);
    }

    #[test]
    fn syntax_errors() {
        for q in [
            "email:",
            "email",
            r#"email:"abc"#,
            r#"email:"abc"def"#,
            "(email:a",
            "email:a)",
            "email:a*b",
            "email:a?",
            "email:a:b",
            "AND email:a",
            "email:a OR",
            "NOT",
            "password:x",
            "app_metadata.:x",
            "email:[a TO b]",
            r"email:a\",
        ] {
            assert!(parse(q).is_err(), "{q} should not parse");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}email:a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        let fine = format!("{}email:a{}", "(".repeat(10), ")".repeat(10));
        assert!(parse(&fine).is_ok());
    }
}
