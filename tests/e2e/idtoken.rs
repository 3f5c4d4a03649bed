//! Re-issued id_tokens: SDKs that insist on `iss` = `https://<their domain>/` and the
//! domain's JWKS accept the gateway's id_tokens, while access tokens stay the tenant's.

use crate::common::*;
use serde_json::Value;

fn rsa_pem() -> String {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    pem::encode(&pem::Pem::new("PRIVATE KEY", pair.as_der().unwrap().as_ref().to_vec()))
}

fn with_reissue(current: &str, previous: Option<&str>) -> impl FnOnce(String) -> String {
    let indent = |pem: &str| pem.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n");
    let mut block = format!(
        "public_url: https://gateway.test\nid_token:\n  reissue: true\n  signing_key: |\n{}\n",
        indent(current)
    );
    if let Some(p) = previous {
        block += &format!("  previous_key: |\n{}\n", indent(p));
    }
    move |yaml: String| yaml.replace("routes:\n", &format!("{block}routes:\n"))
}

fn decode(part: &str) -> Value {
    use base64::Engine;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_name_the_gateway_and_verify_against_its_jwks() {
    let (current, previous) = (rsa_pem(), rsa_pem());
    let s = Stack::start_with(with_reissue(&current, Some(&previous))).await;
    let (status, body) = s.login("mobile-secret").await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["idToken"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(claims["iss"], "https://gateway.test/");
    assert_eq!(claims["aud"], "mobile-app");
    assert_eq!(claims["email"], "demo@example.com", "the tenant's claims are kept");
    assert_eq!(claims["sub"], crate::common::claims(body["accessToken"].as_str().unwrap())["sub"]);
    assert_eq!(
        crate::common::claims(body["accessToken"].as_str().unwrap())["iss"],
        s.tenant.issuer(),
        "access tokens untouched"
    );

    // The gateway's JWKS has the tenant's key and both of its own; the id_token verifies.
    let (status, jwks) = json(s.gateway.get("/.well-known/jwks.json").send().await.unwrap()).await;
    assert_eq!(status, 200);
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "{jwks}");
    let ours = keys.iter().find(|k| k["kid"] == header["kid"]).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(ours.clone()).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&["https://gateway.test/"]);
    validation.set_audience(&["mobile-app"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation).expect("the id_token verifies with the gateway's key");

    // Discovery names the gateway as the issuer; the guard still takes the tenant's tokens.
    let (_, doc) = json(s.gateway.get("/.well-known/openid-configuration").send().await.unwrap()).await;
    assert_eq!(doc["issuer"], "https://gateway.test/");
    let api = s.gateway.get("/api/me").bearer_auth(body["accessToken"].as_str().unwrap());
    assert_eq!(api.send().await.unwrap().status(), 200);
}

#[test]
fn reissue_needs_a_key_and_a_public_url() {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml")).unwrap();
    let parse = |yaml: &str| authgate::config::parse(yaml, "test", &|_| None).map(|_| ()).map_err(|e| e.to_string());
    let without_key = demo.replace("routes:\n", "id_token: { reissue: true }\nroutes:\n");
    assert!(parse(&without_key).unwrap_err().contains("id_token.signing_key"));
    let bad_key = demo.replace("routes:\n", "id_token: { reissue: true, signing_key: not-a-pem }\nroutes:\n");
    assert!(parse(&bad_key).unwrap_err().contains("id_token.signing_key"));
    let no_url = with_reissue(&rsa_pem(), None)(demo.replace("public_url:", "# public_url:"))
        .replace("public_url: https://gateway.test\n", "");
    assert!(parse(&no_url).unwrap_err().contains("public_url"), "{:?}", parse(&no_url));
}
