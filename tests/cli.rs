//! `byoc routes resolve` as a user runs it.

use std::process::Command;

use byoc_e2e::binary;

fn resolve(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(binary("byoc"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["routes", "resolve"])
        .args(args)
        .output()
        .expect("run byoc");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn resolve_explains_the_match_on_the_embedded_example() {
    let (code, out) = resolve(&["sip:3175559876@example.sip.twilio.com;user=phone"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("address:  +13175559876 (E.164 number)"),
        "{out}"
    );
    assert!(out.contains("route:    +1317555* -> redirect"), "{out}");
    assert!(
        out.contains("why:      longest matching prefix +1317555* (7 digits)"),
        "{out}"
    );
    assert!(out.contains("team=support&amp;lang=en"), "{out}");

    let (code, out) = resolve(&["+13175551234"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("why:      exact match on +13175551234"),
        "{out}"
    );

    let (code, out) = resolve(&["sip:4321@pbx"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("literal address"), "{out}");
    assert!(
        out.contains("<Sip>sip:4321@pbx.example.com;transport=tls</Sip>"),
        "{out}"
    );

    let (code, out) = resolve(&["+33123456789"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("why:      catch-all *"), "{out}");
}

#[test]
fn resolve_reports_no_route_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.json");
    std::fs::write(
        &path,
        r#"{"routes":[{"pattern":"+1317*","action":"hangup"}]}"#,
    )
    .unwrap();
    let file = path.display().to_string();

    let (code, out) = resolve(&["+12125551234", "--routes", &file], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("route:    none"), "{out}");
    assert!(out.contains("<Reject reason=\"rejected\"/>"), "{out}");

    let (code, out) = resolve(
        &["+12125551234", "--routes", &file],
        &[("DEFAULT_ROUTE_URL", "https://example.com/d")],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("the default route (DEFAULT_ROUTE_URL)"),
        "{out}"
    );

    let (code, out) = resolve(&["+1-abc"], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("address:  invalid"), "{out}");

    std::fs::write(&path, r#"{"routes":[{"pattern":"+1317*","url":"x"}]}"#).unwrap();
    let (code, out) = resolve(&["+1317", "--routes", &file], &[]);
    assert_eq!(code, 2);
    assert!(out.contains("route `+1317*`: `url`"), "{out}");
}
