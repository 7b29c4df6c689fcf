//! `byoc twilio` against a local fake of Twilio's REST API (tests/support/fake_twilio.rs), a real
//! `byoc serve` as the deployment and moto's CloudFormation for `--stack`.

use byoc_e2e::fake_twilio::{FakeTwilio, ACCOUNT, API_KEY, API_SECRET, TOKEN};
use byoc_e2e::{byoc, Dynamo, Run, Serve};
use std::time::Duration;

const DOMAIN: &str = "acme.sip.twilio.com";

/// `byoc ARGS` off the runtime's threads (the fake answers on them).
async fn run(args: &[&str], env: &[(String, String)]) -> Run {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        byoc(&args, &env)
    })
    .await
    .unwrap()
}

fn with_token(fake: &FakeTwilio, token: &str) -> Vec<(String, String)> {
    let mut env = fake.env();
    env.push(("TWILIO_AUTH_TOKEN".into(), token.into()));
    env
}

fn posts(fake: &FakeTwilio) -> Vec<Vec<(String, String)>> {
    fake.requests()
        .into_iter()
        .filter(|(m, _, _)| m == "POST")
        .map(|(_, _, form)| form)
        .collect()
}

#[tokio::test]
async fn domains_and_trunks_are_listed_across_pages() {
    let fake = FakeTwilio::start(
        &["a.sip.twilio.com", "b.sip.twilio.com", "c.sip.twilio.com"],
        &["Carrier A", "Carrier B", "Carrier C"],
    )
    .await;
    let env = with_token(&fake, TOKEN);
    let out = run(&["twilio", "domains"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in ["a.sip.twilio.com", "b.sip.twilio.com", "c.sip.twilio.com"] {
        assert!(out.stdout.contains(name), "{name}: {}", out.stdout);
    }
    assert!(out.stdout.contains("VoiceUrl"), "{}", out.stdout);
    let out = run(&["twilio", "trunks"], &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout
            .matches("BY0000000000000000000000000000000")
            .count(),
        3,
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Carrier C"), "{}", out.stdout);
    // Pages followed: two of domains, two of trunks (the trunks' next page URL is absolute).
    let gets: Vec<String> = fake.requests().into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(
        gets.iter().filter(|p| p.ends_with("Domains.json")).count(),
        2,
        "{gets:?}"
    );
    assert_eq!(
        gets.iter().filter(|p| p.ends_with("ByocTrunks")).count(),
        2,
        "{gets:?}"
    );

    // An API key pair works as well; a wrong token is Twilio's 401, shown with a hint.
    let mut env = fake.env();
    env.push(("TWILIO_API_KEY".into(), API_KEY.into()));
    env.push(("TWILIO_API_SECRET".into(), API_SECRET.into()));
    assert_eq!(run(&["twilio", "trunks"], &env).await.code, 0);
    let out = run(
        &["twilio", "domains"],
        &with_token(&fake, "wrong-token-xyz"),
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("HTTP 401: Authenticate (Twilio error 20003)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: check TWILIO_ACCOUNT_SID"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-token-xyz"), "{}", out.stderr);
    // Nowhere to go.
    let mut env = with_token(&fake, TOKEN);
    env.retain(|(k, _)| k != "TWILIO_API_BASE_URL");
    env.push(("TWILIO_API_BASE_URL".into(), "http://127.0.0.1:9".into()));
    let out = run(&["twilio", "domains"], &env).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
}

#[tokio::test]
async fn connect_points_the_domain_at_a_deployment_in_one_request() {
    let fake = FakeTwilio::start(
        &[
            "other.sip.twilio.com",
            DOMAIN,
            "locked.sip.twilio.com",
            "behind-proxy.sip.twilio.com",
        ],
        &[],
    )
    .await;
    let env = with_token(&fake, TOKEN);
    let base = "https://abc123.execute-api.us-east-1.amazonaws.com";

    // --dry-run shows the change and makes none.
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            base,
            "--dry-run",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "https://old.example.com/voice  ->  {base}/inbound"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dry run: 3 field(s) would change"),
        "{}",
        out.stdout
    );
    assert!(posts(&fake).is_empty());

    // The webhook URL output pasted as the base works too.
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            &format!("{base}/inbound"),
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("connected: 3 field(s) set in one request"),
        "{}",
        out.stdout
    );
    let sent = posts(&fake);
    assert_eq!(sent.len(), 1);
    let mut fields = sent[0].clone();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            (
                "VoiceFallbackUrl".to_string(),
                format!("{base}/inbound/fallback")
            ),
            (
                "VoiceStatusCallbackUrl".to_string(),
                format!("{base}/inbound/status")
            ),
            ("VoiceUrl".to_string(), format!("{base}/inbound")),
        ]
    );
    let domain = fake.domain(DOMAIN);
    assert_eq!(domain["voice_url"], format!("{base}/inbound"));
    assert_eq!(domain["voice_method"], "POST");
    assert_eq!(domain["voice_status_callback_method"], "POST");
    assert_eq!(
        fake.domain("other.sip.twilio.com")["voice_url"],
        "https://old.example.com/voice"
    );

    // Again: nothing to do. A method changed in the console is put back.
    let out = run(
        &["twilio", "connect", "--domain", DOMAIN, "--base-url", base],
        &env,
    )
    .await;
    assert!(out.stdout.contains("already connected"), "{}", out.stdout);
    fake.set(DOMAIN, "voice_method", "GET".into());
    let out = run(
        &["twilio", "connect", "--domain", DOMAIN, "--base-url", base],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        posts(&fake).last().unwrap(),
        &vec![("VoiceMethod".to_string(), "POST".to_string())]
    );

    // Credentials in a URL (Twilio accepts user:password@host) are never printed.
    fake.set(
        DOMAIN,
        "voice_url",
        "https://user:s3cret@old.example.com/voice".into(),
    );
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            base,
            "--dry-run",
        ],
        &env,
    )
    .await;
    assert!(
        out.stdout.contains("https://***@old.example.com/voice  ->"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
    let out = run(&["twilio", "domains"], &env).await;
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
}

/// A domain the account does not have, Twilio's refusal and a proxy's page are each named for
/// what they are, with their exit codes, and nothing is changed.
#[tokio::test]
async fn connect_names_a_missing_domain_a_refusal_and_a_proxy() {
    let fake = FakeTwilio::start(
        &[
            DOMAIN,
            "locked.sip.twilio.com",
            "behind-proxy.sip.twilio.com",
        ],
        &[],
    )
    .await;
    let env = with_token(&fake, TOKEN);
    let base = "https://abc123.execute-api.us-east-1.amazonaws.com";

    // A domain the account does not have: exit 1, naming those it has. A SID that is not there:
    // Twilio's 404, exit 1.
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            "nope.sip.twilio.com",
            "--base-url",
            base,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no SIP domain `nope.sip.twilio.com`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(DOMAIN), "{}", out.stderr);
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            "SD00000000000000000000000000000099",
            "--base-url",
            base,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);

    // Twilio's refusal: shown with its code, and nothing was changed. A proxy's page: not Twilio.
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            "locked.sip.twilio.com",
            "--base-url",
            base,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    assert!(
        out.stderr.contains("(Twilio error 21502)"),
        "{}",
        out.stderr
    );
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            "behind-proxy.sip.twilio.com",
            "--base-url",
            base,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("Twilio was not reached: HTTP 502"),
        "{}",
        out.stderr
    );
}

/// Bad input never reaches Twilio.
#[tokio::test]
async fn connect_refuses_bad_input_before_calling_twilio() {
    let fake = FakeTwilio::start(
        &[
            DOMAIN,
            "locked.sip.twilio.com",
            "behind-proxy.sip.twilio.com",
        ],
        &[],
    )
    .await;
    let env = with_token(&fake, TOKEN);
    let base = "https://abc123.execute-api.us-east-1.amazonaws.com";

    let before = fake.requests().len();
    for args in [
        vec![
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            "abc.example.com",
        ],
        vec!["twilio", "connect", "--domain", DOMAIN],
        vec!["twilio", "connect", "--domain", "", "--base-url", base],
        vec![
            "twilio",
            "connect",
            "--domain",
            "SDnope",
            "--base-url",
            base,
        ],
        vec![
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            base,
            "--fallback-stack",
            "x",
        ],
    ] {
        let out = run(&args, &env).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    assert_eq!(fake.requests().len(), before);
    let mut no_account = env.clone();
    no_account.retain(|(k, _)| k != "TWILIO_ACCOUNT_SID");
    no_account.push(("TWILIO_ACCOUNT_SID".into(), "ACnope".into()));
    let out = run(&["twilio", "domains"], &no_account).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is not a account SID") || out.stderr.contains("account SID"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn check_reads_the_domain_back_and_calls_the_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.json");
    std::fs::write(
        &routes,
        r#"{"routes":[{"pattern":"+13175551234","action":"redirect","url":"https://example.com/main"},
            {"pattern":"+13175550100","url":"https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW00000000000000000000000000000000"},
            {"pattern":"4321","url":"https://example.com/extension"}]}"#,
    )
    .unwrap();
    let routes = routes.display().to_string();
    let serve = Serve::start(
        &["--routes", &routes],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("DEFAULT_ROUTE_URL", "https://example.com/default"),
        ],
    )
    .await;
    let fake = FakeTwilio::start(&[DOMAIN], &[]).await;
    let env = with_token(&fake, TOKEN);
    let base = serve.base_url.clone();

    // Not connected yet: each wrong field is named, exit 1.
    let out = run(
        &["twilio", "check", "--domain", DOMAIN, "--base-url", &base],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("WRONG  VoiceUrl"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "is https://old.example.com/voice, should be {base}/inbound"
        )),
        "{}",
        out.stdout
    );

    let out = run(
        &["twilio", "connect", "--domain", DOMAIN, "--base-url", &base],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &base,
            "--number",
            "+13175551234",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for line in [
        "ok     VoiceUrl",
        "ok     VoiceStatusCallbackMethod",
        "ok     voice URL, signed with TWILIO_AUTH_TOKEN",
        "200 matched <Redirect> for +13175551234",
        "ok     fallback URL",
        "ok     status callback",
        "all right",
    ] {
        assert!(out.stdout.contains(line), "{line}: {}", out.stdout);
    }
    // A number routed into a Studio flow: its status callback is a 302 to Studio, read and
    // not followed.
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &base,
            "--number",
            "+13175550100",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("ok     status callback"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("302 flow_return"), "{}", out.stdout);

    // The deployment saw Twilio-shaped, signed calls to the domain.
    // `byoc serve` writes its lines in batches: wait for this call's own lines (the first
    // check's call, to another number, wrote an `inbound_fallback` line long before).
    serve
        .stderr
        .wait_for("did=\"+13175551234\"", Duration::from_secs(5))
        .await;
    let seen = serve.stderr.text();
    assert!(seen.contains("endpoint=\"inbound_fallback\""), "{seen}");
    assert!(seen.contains("did=\"+13175551234\""), "{seen}");

    // A number with no route of its own: the default answers, which is not a match.
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &base,
            "--number",
            "3175559999",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("+13175559999 did not match a route: default <Redirect>"),
        "{}",
        out.stdout
    );
    // An extension route's address is a number too for this purpose.
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &base,
            "--number",
            "4321",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    // Without --number any TwiML answer will do.
    let out = run(
        &["twilio", "check", "--domain", DOMAIN, "--base-url", &base],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);

    // A deployment with another token refuses the test calls (403).
    let other = Serve::start(
        &["--routes", &routes],
        &[("TWILIO_AUTH_TOKEN", "another-token")],
    )
    .await;
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            &other.base_url,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0);
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &other.base_url,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.lines().any(|l| l
            .starts_with("  WRONG  voice URL, signed with TWILIO_AUTH_TOKEN ")
            && l.contains("HTTP 403: Forbidden")),
        "{}",
        out.stdout
    );

    // Nothing listening: said so, exit 1.
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("no answer"), "{}", out.stdout);
}

/// The rotation runbook of docs/operations.md, each step confirmed by `byoc twilio check`.
#[tokio::test]
async fn check_confirms_each_step_of_a_token_rotation() {
    const NEW: &str = "the-secondary-token-0123456789ab";
    let fake = FakeTwilio::start(&[DOMAIN], &[]).await;
    let mut env = with_token(&fake, TOKEN);
    env.push(("TWILIO_AUTH_TOKEN_NEXT".into(), NEW.into()));

    // Step 1: the deployment knows only the current token: the new one is refused.
    let before = Serve::start(&[], &[("TWILIO_AUTH_TOKEN", TOKEN)]).await;
    let base = before.base_url.clone();
    run(
        &["twilio", "connect", "--domain", DOMAIN, "--base-url", &base],
        &env,
    )
    .await;
    let out = run(
        &["twilio", "check", "--domain", DOMAIN, "--base-url", &base],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("ok     voice URL, signed with TWILIO_AUTH_TOKEN "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("WRONG  voice URL, signed with TWILIO_AUTH_TOKEN_NEXT"),
        "{}",
        out.stdout
    );

    // Step 2: deployed with both: both accepted.
    let both = Serve::start(
        &[],
        &[
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_AUTH_TOKEN_NEXT", NEW),
        ],
    )
    .await;
    run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--base-url",
            &both.base_url,
        ],
        &env,
    )
    .await;
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &both.base_url,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("ok     voice URL, signed with TWILIO_AUTH_TOKEN_NEXT"),
        "{}",
        out.stdout
    );
    assert!(both
        .stderr
        .wait_for("signed_by=\"token_next\"", Duration::from_secs(5))
        .await
        .is_some());
}

#[tokio::test]
async fn connect_reads_the_urls_from_deployed_stacks() {
    let moto = Dynamo::moto();
    let primary = "https://abc123.execute-api.us-east-1.amazonaws.com";
    let secondary = "https://xyz789.execute-api.us-west-2.amazonaws.com";
    for (base, region) in [(primary, "us-east-1"), (secondary, "us-west-2")] {
        moto.create_stack(
            "byoc-router",
            region,
            &[
                ("InboundWebhookUrl", &format!("{base}/inbound")),
                ("InboundFallbackUrl", &format!("{base}/inbound/fallback")),
                (
                    "InboundStatusCallbackUrl",
                    &format!("{base}/inbound/status"),
                ),
                ("OutboundWebhookUrl", &format!("{base}/outbound")),
            ],
        );
    }
    moto.create_stack("not-ours", "us-east-1", &[("Something", "else")]);
    let fake = FakeTwilio::start(&[DOMAIN], &[]).await;
    let mut env = with_token(&fake, TOKEN);
    env.extend([
        (
            "AWS_ENDPOINT_URL_CLOUDFORMATION".to_string(),
            moto.endpoint(),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]);
    let out = run(
        &[
            "twilio",
            "connect",
            "--domain",
            DOMAIN,
            "--stack",
            "byoc-router",
            "--fallback-stack",
            "byoc-router",
            "--fallback-region",
            "us-west-2",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let domain = fake.domain(DOMAIN);
    assert_eq!(domain["voice_url"], format!("{primary}/inbound"));
    assert_eq!(
        domain["voice_status_callback_url"],
        format!("{primary}/inbound/status")
    );
    assert_eq!(
        domain["voice_fallback_url"],
        format!("{secondary}/inbound/fallback")
    );

    let out = run(
        &[
            "twilio", "connect", "--domain", DOMAIN, "--stack", "missing",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("stack `missing`"), "{}", out.stderr);
    let out = run(
        &[
            "twilio", "connect", "--domain", DOMAIN, "--stack", "not-ours",
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("has no output InboundWebhookUrl"),
        "{}",
        out.stderr
    );
    let _ = ACCOUNT;
}

/// `connect` keeps a fallback URL in another deployment only when it answers from the same
/// routes (another region of this deployment), and says so; a fallback left behind by a dev
/// tunnel or a deployment on other routes is replaced by the new deployment's own. `check`
/// sends the same call to the voice and the fallback URL and reports a difference.
#[tokio::test]
async fn connect_keeps_another_regions_fallback_only_on_the_same_routes() {
    let dir = tempfile::tempdir().unwrap();
    let routes = dir.path().join("routes.json");
    std::fs::write(
        &routes,
        r#"{"routes":[{"pattern":"*","action":"say","text":"Production"}]}"#,
    )
    .unwrap();
    let tunnel_routes = dir.path().join("tunnel.json");
    std::fs::write(
        &tunnel_routes,
        r#"{"routes":[{"pattern":"*","action":"say","text":"My laptop"}]}"#,
    )
    .unwrap();
    let token = [("TWILIO_AUTH_TOKEN", TOKEN)];
    let on = |file: &std::path::Path| ["--routes".to_string(), file.display().to_string()];
    let args = on(&routes);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let east = Serve::start(&args, &token).await;
    let west = Serve::start(&args, &token).await;
    let tunnel_args = on(&tunnel_routes);
    let tunnel_args: Vec<&str> = tunnel_args.iter().map(String::as_str).collect();
    let tunnel = Serve::start(&tunnel_args, &token).await;
    let fake = FakeTwilio::start(&[DOMAIN], &[]).await;
    let env = with_token(&fake, TOKEN);
    let connect = |base: &str, fallback: Option<&str>| {
        let mut args = vec!["twilio", "connect", "--domain", DOMAIN, "--base-url", base];
        args.extend(
            fallback
                .map(|f| ["--fallback-url", f])
                .into_iter()
                .flatten(),
        );
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let env = env.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &env).await
        }
    };
    let fallback = || {
        fake.domain(DOMAIN)["voice_fallback_url"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // East, with west (the same routes) as its fallback; connected again: west is kept.
    let out = connect(&east.base_url, Some(&west.base_url)).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(fallback(), format!("{}/inbound/fallback", west.base_url));
    let out = connect(&east.base_url, None).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("KEEPING the fallback URL"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("already connected"), "{}", out.stdout);
    assert_eq!(fallback(), format!("{}/inbound/fallback", west.base_url));
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &east.base_url,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("ok     fallback answers as the voice URL"),
        "{}",
        out.stdout
    );

    // A dev tunnel on other routes: its own fallback replaces west's, loudly.
    let out = connect(&tunnel.base_url, None).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("REPLACING the fallback URL")
            && out.stdout.contains("it answers from other routes"),
        "{}",
        out.stdout
    );
    assert_eq!(fallback(), format!("{}/inbound/fallback", tunnel.base_url));
    // Back to production: the tunnel's fallback (other routes) is not kept either.
    let out = connect(&east.base_url, None).await;
    assert!(
        out.stdout.contains("REPLACING the fallback URL"),
        "{}",
        out.stdout
    );
    assert_eq!(fallback(), format!("{}/inbound/fallback", east.base_url));
    // A fallback that does not answer cannot be shown to serve the same routes.
    fake.set(
        DOMAIN,
        "voice_fallback_url",
        "http://127.0.0.1:9/inbound/fallback".into(),
    );
    let out = connect(&east.base_url, None).await;
    assert!(
        out.stdout.contains("REPLACING") && out.stdout.contains("cannot be compared"),
        "{}",
        out.stdout
    );

    // A fallback named on purpose is never second-guessed, but check shows the difference.
    let out = connect(&east.base_url, Some(&tunnel.base_url)).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = run(
        &[
            "twilio",
            "check",
            "--domain",
            DOMAIN,
            "--base-url",
            &east.base_url,
            "--fallback-url",
            &tunnel.base_url,
        ],
        &env,
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let wrong = out
        .stdout
        .lines()
        .find(|l| l.contains("WRONG  fallback answers as the voice URL"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        wrong.contains("Production") && wrong.contains("My laptop"),
        "{wrong}"
    );
}
