//! `template.yaml` against the code: handlers, build properties, binaries, environment variables,
//! routes and least-privilege permissions must match what the binaries are and read.

use std::collections::BTreeSet;

use byoc_e2e::root;
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn keys(y: &Yaml) -> BTreeSet<String> {
    y.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `[[bin]] name` of a crate's Cargo.toml.
fn bin_name(krate: &str) -> String {
    let text =
        std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let bin = text.split("[[bin]]").nth(1).expect("a [[bin]] section");
    bin.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("name = ")
                .map(|n| n.trim_matches('"').to_string())
        })
        .expect("bin name")
}

#[test]
fn functions_match_the_binaries_and_their_configuration() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    let timeout = globals["Timeout"].as_i64().unwrap();
    assert!(
        timeout < 15,
        "Twilio gives up after 15 s; the function must answer first"
    );
    let global_env = keys(&globals["Environment"]["Variables"]);

    for (resource, krate) in [
        ("InboundFunction", "inbound"),
        ("OutboundFunction", "outbound"),
    ] {
        let f = &t["Resources"][resource];
        assert_eq!(f["Type"].as_str(), Some("AWS::Serverless::Function"));
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda")
        );
        assert_eq!(
            f["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some(bin_name(krate).as_str()),
            "{resource} builds the {krate} crate's binary"
        );
        let env: BTreeSet<String> = global_env
            .iter()
            .cloned()
            .chain(keys(&f["Properties"]["Environment"]["Variables"]))
            .collect();
        for name in &env {
            assert!(
                byoc_web::config::ENV_VARS.contains(&name.as_str()),
                "{resource} sets {name}, which no code reads"
            );
        }
        for required in [
            "TWILIO_AUTH_TOKEN",
            "DEFAULT_COUNTRY_CODE",
            "PUBLIC_BASE_URL",
        ] {
            assert!(env.contains(required), "{resource} lacks {required}");
        }
    }
    let inbound_env =
        keys(&t["Resources"]["InboundFunction"]["Properties"]["Environment"]["Variables"]);
    for required in [
        "ROUTES_TABLE",
        "DEFAULT_ROUTE_URL",
        "ROUTE_CACHE_TTL_SECONDS",
        "STORE_TIMEOUT_MS",
    ] {
        assert!(inbound_env.contains(required), "inbound lacks {required}");
    }
    let outbound_env =
        keys(&t["Resources"]["OutboundFunction"]["Properties"]["Environment"]["Variables"]);
    assert!(outbound_env.contains("BYOC_TRUNK_SID"));
    assert!(
        !outbound_env.contains("ROUTES_TABLE"),
        "outbound reads no routes"
    );
}

#[test]
fn routes_and_permissions_are_least_privilege() {
    let t = template();
    let mut routes = BTreeSet::new();
    for (resource, _) in [("InboundFunction", ()), ("OutboundFunction", ())] {
        for (_, event) in t["Resources"][resource]["Properties"]["Events"]
            .as_hash()
            .unwrap()
        {
            let p = &event["Properties"];
            routes.insert(format!(
                "{} {} {}",
                resource,
                p["Method"].as_str().unwrap(),
                p["Path"].as_str().unwrap()
            ));
        }
    }
    let expected: BTreeSet<String> = [
        "InboundFunction POST /inbound",
        "InboundFunction GET /inbound",
        "InboundFunction POST /inbound/status",
        "InboundFunction GET /inbound/status",
        "InboundFunction POST /inbound/fallback",
        "InboundFunction GET /inbound/fallback",
        "InboundFunction POST /inbound/next",
        "OutboundFunction POST /outbound",
        "OutboundFunction GET /outbound",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    // Inbound: only BatchGetItem on the routes table. Outbound: no policies at all.
    let policies = &t["Resources"]["InboundFunction"]["Properties"]["Policies"];
    let statements = policies[0]["Statement"].as_vec().unwrap();
    assert_eq!(statements.len(), 1);
    let actions: Vec<&str> = statements[0]["Action"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(actions, vec!["dynamodb:BatchGetItem"]);
    assert!(t["Resources"]["OutboundFunction"]["Properties"]["Policies"].is_badvalue());

    // The table: on demand, recoverable, encrypted, kept, keyed as the store expects.
    let table = &t["Resources"]["RoutesTable"];
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
    let key: Vec<(&str, &str)> = p["KeySchema"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(key, vec![("pattern", "HASH"), ("sk", "RANGE")]);

    // The token never has a default and never echoes.
    let token = &t["Parameters"]["TwilioAuthToken"];
    assert_eq!(token["NoEcho"].as_bool(), Some(true));
    assert!(token["Default"].is_badvalue());

    // Every URL to paste into Twilio is an output.
    let outputs = keys(&t["Outputs"]);
    for name in [
        "InboundWebhookUrl",
        "InboundFallbackUrl",
        "InboundStatusCallbackUrl",
        "OutboundWebhookUrl",
        "RoutesTableName",
    ] {
        assert!(outputs.contains(name), "missing output {name}");
    }
}
