use super::*;
use proptest::prelude::*;

fn norm(p: &str) -> Result<String, PathError> {
    normalize(p, Strictness::default()).map(Cow::into_owned)
}

#[test]
fn normal_paths_are_borrowed_unchanged() {
    for p in ["/", "/api/me", "/a/b/", "/a.b/c..d/.e", "/x-y_z~", "/q:@!$&'()*+,="] {
        assert!(matches!(normalize(p, Strictness::default()), Ok(Cow::Borrowed(_))), "{p}");
    }
}

#[test]
fn dot_segments_and_slashes_are_resolved() {
    let cases = [
        ("/public/../api/me", "/api/me"),
        ("/public/%2e%2e/api/me", "/api/me"),
        ("/public/%2E%2E/api/me", "/api/me"),
        ("/public/.%2e/api/me", "/api/me"),
        ("/public/./../api/me", "/api/me"),
        ("/public//../api/me", "/api/me"),
        ("//public/../api/me", "/api/me"),
        ("/../../etc", "/etc"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/a//b///c", "/a/b/c"),
        ("//oauth/token", "/oauth/token"),
        ("/oauth/./token", "/oauth/token"),
        ("/oauth/t%6Fken", "/oauth/token"),
        ("/%7Euser/%41", "/~user/A"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/stra%C3%9Fe", "/stra%C3%9Fe"),
        ("/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC"),
        ("/a%20b", "/a%20b"),
        ("/..", "/"),
    ];
    for (raw, want) in cases {
        assert_eq!(norm(raw).as_deref(), Ok(want), "{raw}");
    }
}

#[test]
fn unsafe_spellings_are_refused() {
    let cases = [
        ("/public/..%2fapi/me", PathError::EscapedSlash),
        ("/public/..%2Fapi/me", PathError::EscapedSlash),
        ("/public/%2e%2e%2fapi/me", PathError::EscapedSlash),
        ("/public/..%5capi", PathError::EscapedSlash),
        ("/public/..\\api\\me", PathError::Backslash),
        ("/public/..%00/api/me", PathError::Control),
        ("/a%0d%0aX: y", PathError::Control),
        ("/public/%252e%252e/api/me", PathError::DoubleEscape),
        ("/public/%252F", PathError::DoubleEscape),
        ("/public/%25%32%65%25%32%65/api/me", PathError::DoubleEscape),
        ("/public/%25%32%66", PathError::DoubleEscape),
        ("/public/%25%35%63", PathError::DoubleEscape),
        ("/public/%25%30%30", PathError::DoubleEscape),
        ("/%C4%B0nternal/jobs", PathError::Lookalike),
        ("/%C4%B1nternal/jobs", PathError::Lookalike),
        ("/%EF%BD%89nternal/jobs", PathError::Lookalike),
        ("/%EF%AC%81les", PathError::Lookalike),
        ("/public/%u002e%u002e/api", PathError::InvalidEscape),
        ("/a%2", PathError::InvalidEscape),
        ("/a%zz", PathError::InvalidEscape),
        ("/public/%c0%ae%c0%ae/api/me", PathError::NotUtf8),
        ("/public/%ef%bc%8e%ef%bc%8e/api", PathError::Lookalike),
        ("/public/..;/api/me", PathError::Parameter),
        ("/public/.;x/api/me", PathError::Parameter),
        ("/public/;x/api/me", PathError::Parameter),
        ("*", PathError::NotAPath),
        ("", PathError::NotAPath),
    ];
    for (raw, want) in cases {
        assert_eq!(norm(raw), Err(want), "{raw}");
    }
}

#[test]
fn request_targets_are_split_into_path_and_query() {
    fn t(raw: &str) -> Result<(&str, Option<&str>, bool), PathError> {
        split_target(raw.as_bytes()).map(|t| (t.path, t.query, t.absolute))
    }
    assert_eq!(t("/a/b?x=1&y"), Ok(("/a/b", Some("x=1&y"), false)));
    assert_eq!(t("/a#frag"), Ok(("/a", None, false)));
    assert_eq!(t("http://evil.example/public/x?q"), Ok(("/public/x", Some("q"), true)));
    assert_eq!(t("HTTPS://h:8443"), Ok(("/", None, true)));
    assert_eq!(t("http://h?q=1"), Ok(("/", Some("q=1"), true)));
    for bad in ["*", "foo", "host:443", "foo:bar://evil/admin", ""] {
        assert_eq!(t(bad), Err(PathError::NotAPath), "{bad}");
    }
    assert_eq!(split_target(&[b'/', 0xff]), Err(PathError::RawByte));
}

#[test]
fn strictness_only_adds_refusals() {
    let strict = Strictness { reject_escaped_percent: true, reject_path_parameters: true };
    assert_eq!(norm("/a%25b").as_deref(), Ok("/a%25b"));
    assert_eq!(normalize("/a%25b", strict), Err(PathError::DoubleEscape));
    assert_eq!(norm("/cars;color=red/x").as_deref(), Ok("/cars;color=red/x"));
    assert_eq!(normalize("/cars;color=red/x", strict), Err(PathError::ParameterRefused));
    assert_eq!(without_parameters("/cars;color=red/x;y"), "/cars/x");
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e".to_string()),
        Just("%2E%2e".to_string()),
        Just("%2f".to_string()),
        Just("%5C".to_string()),
        Just("%25".to_string()),
        Just("%252e".to_string()),
        Just("%00".to_string()),
        Just(";p".to_string()),
        Just("..;".to_string()),
        Just("%41".to_string()),
        Just("%c3%a9".to_string()),
        Just("%c0%ae".to_string()),
        Just("\\".to_string()),
        "[a-zA-Z0-9._~-]{1,6}",
        "[a-z]{1,3};[a-z=]{0,4}",
    ]
}

fn raw_path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 0..8).prop_map(|s| format!("/{}", s.join("/")))
}

proptest! {
    #[test]
    fn normalising_is_idempotent(raw in raw_path()) {
        if let Ok(once) = norm(&raw) {
            prop_assert_eq!(norm(&once), Ok(once.clone()));
        }
    }

    #[test]
    fn the_normal_form_has_no_dot_segment_nor_escaped_slash(raw in raw_path()) {
        if let Ok(p) = norm(&raw) {
            prop_assert!(p.starts_with('/'));
            prop_assert!(!p.contains("//"), "{}", p);
            for s in p.split('/') {
                prop_assert!(s != "." && s != "..", "{}", p);
            }
            let upper = p.to_ascii_uppercase();
            prop_assert!(!upper.contains("%2F") && !upper.contains("%5C") && !upper.contains("%2E"), "{}", p);
            prop_assert!(!p.contains('\\'));
        }
    }
}

/// Rules of every policy, and one that names who may pass (`allow`): the rule that decides
/// carries its `allow`, so the same rule means the same authorization.
fn routes() -> crate::config::Routes {
    use crate::config::{Alternative, Condition, Need, Policy};
    let mut routes = crate::config::Routes::for_tests(&[
        ("/public", Policy::Public),
        ("/a", Policy::Secret),
        ("/a/b", Policy::Public),
        ("/admin", Policy::Authenticated),
    ]);
    let admins =
        Condition { need: Need::Groups, claim: "groups".into(), reads: vec![0], values: vec!["admins".into()] };
    routes.rules[3].allow = vec![Alternative { conditions: vec![admins] }];
    routes
}

proptest! {
    /// Deciding on a raw path is deciding on its normal form: the gateway's decision is about
    /// the path the backend gets.
    #[test]
    fn the_decision_on_a_raw_path_is_the_decision_on_its_normal_form(raw in raw_path(), prefix in prop_oneof![Just(""), Just("/public"), Just("/a"), Just("/a/b"), Just("/admin")]) {
        let raw = format!("{prefix}{raw}");
        let routes = routes();
        if let Ok(d) = crate::proxy::decide(&routes, Strictness::default(), "GET", &raw) {
            let again = crate::proxy::decide(&routes, Strictness::default(), "GET", &d.path).expect("the normal form is accepted");
            prop_assert_eq!(again.route, d.route);
            prop_assert_eq!(again.rule, d.rule);
            prop_assert_eq!(again.rule.allow(&routes), d.rule.allow(&routes));
            prop_assert_eq!(&again.path, &d.path);
        }
    }
}
