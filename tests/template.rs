//! `template.yaml` against the code: handlers, build properties, binaries, environment variables,
//! routes and least-privilege permissions must match what the binaries are and read.

use std::collections::{BTreeSet, HashMap};

use byoc_e2e::root;
use serde_json::Value;
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
        "OutboundFunction POST /outbound/next",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    // Inbound: only BatchGetItem on the routes table (and, in the two-region modes, on the
    // replica's: `assert_replica_read`). Outbound: no policies at all.
    let one_region = rendered(&[("TwilioAuthToken", "x")]);
    let statements =
        &one_region["Resources"]["InboundFunction"]["Properties"]["Policies"][0]["Statement"];
    assert_eq!(statements.as_array().unwrap().len(), 1, "{statements}");
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["dynamodb:BatchGetItem"])
    );
    assert!(t["Resources"]["OutboundFunction"]["Properties"]["Policies"].is_badvalue());

    // The (single-region) table: on demand, recoverable, encrypted, kept, keyed as the store
    // expects. The global table of the two-region mode: see `replica_regions_make_the_table_global`.
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

    // The token never has a default and never echoes; the next one (a rotation) never echoes
    // and reaches both functions.
    let token = &t["Parameters"]["TwilioAuthToken"];
    assert_eq!(token["NoEcho"].as_bool(), Some(true));
    assert!(token["Default"].is_badvalue());
    assert_eq!(
        t["Parameters"]["TwilioAuthTokenNext"]["NoEcho"].as_bool(),
        Some(true)
    );
    assert!(keys(&t["Globals"]["Function"]["Environment"]["Variables"])
        .contains("TWILIO_AUTH_TOKEN_NEXT"));

    // Every URL to paste into Twilio is an output.
    let outputs = keys(&t["Outputs"]);
    for name in [
        "InboundWebhookUrl",
        "InboundFallbackUrl",
        "InboundStatusCallbackUrl",
        "OutboundWebhookUrl",
        "RoutesTableName",
        // `byoc calls --stack` reads the log groups from these.
        "InboundLogGroupName",
        "OutboundLogGroupName",
    ] {
        assert!(outputs.contains(name), "missing output {name}");
    }
}

/// `template.yaml` as CloudFormation would see it for these parameters (the rest at their
/// defaults) in us-east-1: conditions evaluated, resources whose condition is false gone, every
/// `Fn::If` chosen, parameters and `Fn::Join` / `Fn::Split` / `Fn::Select` resolved. Resource
/// references stay `{"Ref": …}` / `{"Fn::GetAtt": …}`. YAML tags (`!If`, `!Ref`) are read by
/// cfn-lint's own loader, from the virtualenv `infra/lint-template.sh` creates.
fn rendered(parameters: &[(&str, &str)]) -> Value {
    let venv = std::env::var("BYOC_CFN_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("infra/.venv-cfn"));
    let output = std::process::Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import json, sys; from cfnlint.decode.cfn_yaml import load; \
             print(json.dumps(load(sys.argv[1])))",
        ])
        .arg(root().join("template.yaml"))
        .output()
        .expect("cfn-lint's virtualenv: run ./infra/lint-template.sh once");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let template: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut params: HashMap<String, String> = template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| {
            let default = match &v["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((k.clone(), default))
        })
        .collect();
    for (k, v) in parameters {
        assert!(
            params.contains_key(*k) || *k == "TwilioAuthToken",
            "no parameter {k}"
        );
        params.insert(k.to_string(), v.to_string());
    }
    let render = Render {
        params,
        conditions: template["Conditions"].clone(),
    };
    let mut resources = serde_json::Map::new();
    for (name, resource) in template["Resources"].as_object().unwrap() {
        if let Some(condition) = resource["Condition"].as_str() {
            if !render.condition(condition) {
                continue;
            }
        }
        resources.insert(name.clone(), render.value(resource).unwrap());
    }
    let outputs = render.value(&template["Outputs"]).unwrap();
    serde_json::json!({"Resources": resources, "Outputs": outputs})
}

struct Render {
    params: HashMap<String, String>,
    conditions: Value,
}

impl Render {
    fn condition(&self, name: &str) -> bool {
        self.truth(&self.conditions[name])
    }

    fn truth(&self, v: &Value) -> bool {
        let (f, args) = v.as_object().and_then(|o| o.iter().next()).unwrap();
        match f.as_str() {
            "Fn::Equals" => self.value(&args[0]) == self.value(&args[1]),
            "Fn::Not" => !self.truth(&args[0]),
            "Fn::And" => args.as_array().unwrap().iter().all(|a| self.truth(a)),
            "Fn::Or" => args.as_array().unwrap().iter().any(|a| self.truth(a)),
            "Condition" => self.condition(args.as_str().unwrap()),
            other => panic!("condition function {other}"),
        }
    }

    /// `None` is `AWS::NoValue`: the item or property is left out.
    fn value(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.value(i)).collect(),
            )),
            Value::Object(o) if o.len() == 1 => {
                let (f, args) = o.iter().next().unwrap();
                let text = |i: usize| {
                    self.value(&args[i])
                        .and_then(|v| v.as_str().map(String::from))
                };
                match f.as_str() {
                    "Ref" => match args.as_str().unwrap() {
                        "AWS::NoValue" => None,
                        "AWS::Region" => Some("us-east-1".into()),
                        name => Some(match self.params.get(name) {
                            Some(p) => p.clone().into(),
                            None => v.clone(),
                        }),
                    },
                    "Fn::If" => {
                        let branch = if self.condition(args[0].as_str().unwrap()) {
                            1
                        } else {
                            2
                        };
                        self.value(&args[branch])
                    }
                    "Fn::Join" => {
                        let parts = self.value(&args[1])?;
                        let parts: Vec<&str> = parts
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p.as_str().unwrap())
                            .collect();
                        Some(parts.join(args[0].as_str().unwrap()).into())
                    }
                    "Fn::Split" => Some(
                        text(1)?
                            .split(args[0].as_str().unwrap())
                            .map(|s| Value::from(s.to_string()))
                            .collect(),
                    ),
                    "Fn::Select" => {
                        let list = self.value(&args[1])?;
                        Some(list[args[0].as_u64().unwrap() as usize].clone())
                    }
                    _ => {
                        let mut out = serde_json::Map::new();
                        out.insert(f.clone(), self.value(args)?);
                        Some(Value::Object(out))
                    }
                }
            }
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.value(v)?)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
}

/// The key design every routes table must have (crates/byoc-dynamodb/src/item.rs).
fn assert_keyed_for_the_store(p: &Value) {
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["KeySchema"],
        serde_json::json!([
            {"AttributeName": "pattern", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ])
    );
    assert_eq!(p["GlobalSecondaryIndexes"][0]["IndexName"], "routes");
    assert_eq!(
        p["GlobalSecondaryIndexes"][0]["KeySchema"][0]["AttributeName"],
        "list_shard"
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
}

#[test]
fn one_region_keeps_a_single_table() {
    let t = rendered(&[("TwilioAuthToken", "x")]);
    let r = &t["Resources"];
    assert!(r["RoutesGlobalTable"].is_null());
    let table = &r["RoutesTable"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_keyed_for_the_store(&table["Properties"]);
    let inbound = &r["InboundFunction"]["Properties"];
    assert_eq!(
        inbound["Environment"]["Variables"]["ROUTES_TABLE"],
        serde_json::json!({"Ref": "RoutesTable"})
    );
    assert_eq!(
        inbound["Policies"][0]["Statement"][0]["Resource"],
        serde_json::json!({"Fn::GetAtt": ["RoutesTable", "Arn"]})
    );
    // No replica to read: no setting, no permission.
    assert_eq!(
        inbound["Environment"]["Variables"]["ROUTES_REPLICA_REGION"],
        ""
    );
    assert_eq!(
        inbound["Policies"][0]["Statement"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        t["Outputs"]["RoutesTableName"]["Value"],
        serde_json::json!({"Ref": "RoutesTable"})
    );
}

#[test]
fn replica_regions_make_the_table_global() {
    for (regions, expected) in [
        ("us-west-2", vec!["us-east-1", "us-west-2"]),
        (
            "us-west-2,eu-west-1",
            vec!["us-east-1", "us-west-2", "eu-west-1"],
        ),
    ] {
        let t = rendered(&[("TwilioAuthToken", "x"), ("ReplicaRegions", regions)]);
        let r = &t["Resources"];
        assert!(r["RoutesTable"].is_null(), "{regions}: one table only");
        let table = &r["RoutesGlobalTable"];
        assert_eq!(table["Type"], "AWS::DynamoDB::GlobalTable");
        assert_eq!(table["DeletionPolicy"], "Retain");
        let p = &table["Properties"];
        assert_keyed_for_the_store(p);
        assert_eq!(
            p["StreamSpecification"]["StreamViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        let replicas = p["Replicas"].as_array().unwrap();
        let names: Vec<&str> = replicas
            .iter()
            .map(|r| r["Region"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{regions}");
        for replica in replicas {
            assert_eq!(
                replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
                "{replica}"
            );
        }
        let inbound = &r["InboundFunction"]["Properties"];
        assert_eq!(
            inbound["Environment"]["Variables"]["ROUTES_TABLE"],
            serde_json::json!({"Ref": "RoutesGlobalTable"})
        );
        assert_eq!(
            inbound["Policies"][0]["Statement"][0]["Resource"],
            serde_json::json!({"Fn::GetAtt": ["RoutesGlobalTable", "Arn"]})
        );
        // The first other replica is read when this region's table fails: BatchGetItem on
        // that replica's table alone.
        assert_eq!(
            inbound["Environment"]["Variables"]["ROUTES_REPLICA_REGION"],
            "us-west-2"
        );
        assert_replica_read(
            inbound,
            "us-west-2",
            serde_json::json!({"Ref": "RoutesGlobalTable"}),
        );
    }
}

/// The inbound function may read the replica table in `region`, with BatchGetItem only.
fn assert_replica_read(inbound: &Value, region: &str, table: Value) {
    let statements = inbound["Policies"][0]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{statements:?}");
    let replica = &statements[1];
    assert_eq!(
        replica["Action"],
        serde_json::json!(["dynamodb:BatchGetItem"])
    );
    assert_eq!(
        replica["Resource"]["Fn::Sub"],
        serde_json::json!([
            "arn:${AWS::Partition}:dynamodb:${Region}:${AWS::AccountId}:table/${Table}",
            {"Region": region, "Table": table}
        ])
    );
}

#[test]
fn the_second_region_uses_the_replica_by_name() {
    let t = rendered(&[
        ("TwilioAuthToken", "x"),
        ("ExistingRoutesTable", "byoc-RoutesGlobalTable-1AB2"),
    ]);
    let r = &t["Resources"];
    assert!(r["RoutesTable"].is_null() && r["RoutesGlobalTable"].is_null());
    let inbound = &r["InboundFunction"]["Properties"];
    assert_eq!(
        inbound["Environment"]["Variables"]["ROUTES_TABLE"],
        "byoc-RoutesGlobalTable-1AB2"
    );
    assert_eq!(
        inbound["Policies"][0]["Statement"][0]["Resource"],
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingRoutesTable}"})
    );
    assert_eq!(
        t["Outputs"]["RoutesTableName"]["Value"],
        "byoc-RoutesGlobalTable-1AB2"
    );
    // Without RoutesReplicaRegion, this region reads its own replica only.
    assert_eq!(
        inbound["Environment"]["Variables"]["ROUTES_REPLICA_REGION"],
        ""
    );

    // With it, the home region's replica is read when this one fails.
    let t = rendered(&[
        ("TwilioAuthToken", "x"),
        ("ExistingRoutesTable", "byoc-RoutesGlobalTable-1AB2"),
        ("RoutesReplicaRegion", "us-west-2"),
    ]);
    let inbound = &t["Resources"]["InboundFunction"]["Properties"];
    assert_eq!(
        inbound["Environment"]["Variables"]["ROUTES_REPLICA_REGION"],
        "us-west-2"
    );
    assert_replica_read(inbound, "us-west-2", "byoc-RoutesGlobalTable-1AB2".into());
}

/// The outputs `byoc twilio connect --stack` reads are the URLs the functions verify signatures
/// against: the custom domain's when `PublicBaseUrl` is set.
#[test]
fn webhook_outputs_follow_the_public_base_url() {
    let outputs = |params: &[(&str, &str)]| rendered(params)["Outputs"].clone();
    let default = outputs(&[("TwilioAuthToken", "x")]);
    let custom = outputs(&[
        ("TwilioAuthToken", "x"),
        ("PublicBaseUrl", "https://voice.example.com/router"),
    ]);
    for (name, path) in [
        ("InboundWebhookUrl", "inbound"),
        ("InboundFallbackUrl", "inbound/fallback"),
        ("InboundStatusCallbackUrl", "inbound/status"),
        ("OutboundWebhookUrl", "outbound"),
    ] {
        assert_eq!(
            default[name]["Value"]["Fn::Sub"],
            format!(
                "https://${{WebhookApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{path}"
            )
        );
        assert_eq!(
            custom[name]["Value"]["Fn::Sub"],
            format!("${{PublicBaseUrl}}/{path}")
        );
    }
}

/// Carrier failover's settings reach the outbound function, and its attempts are counted by
/// trunk and result from the fields its call line writes (tests/trunks.rs reads a real line),
/// with an alarm on technical failures and a dashboard widget.
#[test]
fn trunk_attempts_are_counted_alarmed_and_shown() {
    let list = "BYaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let t = rendered(&[
        ("TwilioAuthToken", "x"),
        ("ByocTrunkSid", list),
        (
            "OutboundTrunkRoutes",
            "+44=BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ),
        ("OutboundFallbackPstn", "true"),
    ]);
    let r = &t["Resources"];
    let env = &r["OutboundFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["BYOC_TRUNK_SID"], list);
    assert_eq!(
        env["OUTBOUND_TRUNK_ROUTES"],
        "+44=BYbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    );
    assert_eq!(env["OUTBOUND_FALLBACK_PSTN"], "true");
    let attempts = &r["TrunkAttemptsMetricFilter"]["Properties"];
    assert_eq!(
        attempts["LogGroupName"],
        serde_json::json!({"Ref": "OutboundLogGroup"})
    );
    assert_eq!(
        attempts["FilterPattern"],
        r#"{ $.endpoint = "outbound_next" }"#
    );
    let dims = &attempts["MetricTransformations"][0]["Dimensions"];
    assert_eq!(
        dims[0],
        serde_json::json!({"Key": "Trunk", "Value": "$.trunk"})
    );
    assert_eq!(
        dims[1],
        serde_json::json!({"Key": "Result", "Value": "$.trunk_result"})
    );
    assert_eq!(
        r["TrunkFailuresMetricFilter"]["Properties"]["FilterPattern"],
        r#"{ ($.endpoint = "outbound_next") && ($.trunk_result = "technical") }"#
    );
    let alarm = &r["TrunkFailuresAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "TrunkFailures");
    assert_eq!(alarm["Threshold"], "3");
    // The dashboard body is JSON once CloudFormation substitutes it, and shows the attempts.
    let body = &r["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"];
    let text = body[0]
        .as_str()
        .unwrap()
        .replace("${Ns}", "ByocRouter/stack")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${InboundFunction}", "in")
        .replace("${OutboundFunction}", "out")
        .replace("${WebhookApi}", "api");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let widgets = dashboard["widgets"].to_string();
    assert!(
        widgets.contains("TrunkAttempts") && widgets.contains("outbound_next"),
        "{widgets}"
    );
}

/// The saved Logs Insights queries read the call lines' own fields, and LOG_CALLER reaches the
/// inbound function (off by default).
#[test]
fn saved_queries_read_the_call_lines_and_the_caller_stays_out_by_default() {
    let t = rendered(&[("TwilioAuthToken", "x")]);
    let r = &t["Resources"];
    assert_eq!(
        r["InboundFunction"]["Properties"]["Environment"]["Variables"]["LOG_CALLER"],
        "none"
    );
    for (name, fields) in [
        (
            "CallsByRouteQuery",
            &["pattern", "outcome", "latency_us"][..],
        ),
        (
            "FallThroughNumbersQuery",
            &["did", "pattern", "outcome"][..],
        ),
        ("OneCallQuery", &["call_sid", "endpoint", "trunk"][..]),
    ] {
        let q = &r[name]["Properties"];
        let text = q["QueryString"].as_str().unwrap();
        for field in fields {
            assert!(text.contains(field), "{name}: {field}");
        }
        assert!(
            q["LogGroupNames"][0] == serde_json::json!({"Ref": "InboundLogGroup"}),
            "{name}"
        );
    }
    let t = rendered(&[("TwilioAuthToken", "x"), ("LogCaller", "masked")]);
    assert_eq!(
        t["Resources"]["InboundFunction"]["Properties"]["Environment"]["Variables"]["LOG_CALLER"],
        "masked"
    );
}

/// A flood is refused by API Gateway (stage throttling, from parameters), every request is in
/// the API's access log, 429s have a metric and an alarm, and the inbound function's reserved
/// concurrency is set only when asked for.
#[test]
fn the_api_is_throttled_logged_and_alarmed() {
    let t = rendered(&[("TwilioAuthToken", "x")]);
    let r = &t["Resources"];
    let api = &r["WebhookApi"]["Properties"];
    assert_eq!(api["DefaultRouteSettings"]["ThrottlingRateLimit"], "200");
    assert_eq!(api["DefaultRouteSettings"]["ThrottlingBurstLimit"], "400");
    assert_eq!(
        api["AccessLogSettings"]["DestinationArn"],
        serde_json::json!({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]})
    );
    // The format is JSON once API Gateway fills it in, with the status a number.
    let format = api["AccessLogSettings"]["Format"].as_str().unwrap();
    let filled = format
        .replace("$context.status", "429")
        .replace("$context.responseLatency", "3")
        .replace("$context.error.messageString", "\"Too Many Requests\"")
        .replace("$context.", "");
    let line: Value = serde_json::from_str(&filled).expect("a JSON access log line");
    assert_eq!(line["status"], 429);
    assert_eq!(
        r["ApiThrottledMetricFilter"]["Properties"]["FilterPattern"],
        "{ $.status = 429 }"
    );
    assert_eq!(
        r["ApiThrottledMetricFilter"]["Properties"]["LogGroupName"],
        serde_json::json!({"Ref": "ApiAccessLogGroup"})
    );
    assert_eq!(
        r["ApiThrottledAlarm"]["Properties"]["MetricName"],
        "ApiThrottled"
    );
    for group in ["InboundLogGroup", "OutboundLogGroup", "ApiAccessLogGroup"] {
        assert_eq!(r[group]["Properties"]["RetentionInDays"], "30", "{group}");
        assert!(r[group]["Properties"]["KmsKeyId"].is_null(), "{group}");
    }
    let inbound = &r["InboundFunction"]["Properties"];
    assert!(inbound["ReservedConcurrentExecutions"].is_null());

    let t = rendered(&[
        ("TwilioAuthToken", "x"),
        ("ApiThrottlingRateLimit", "50"),
        ("ApiThrottlingBurstLimit", "100"),
        ("InboundReservedConcurrency", "20"),
        ("LogRetentionDays", "90"),
    ]);
    let r = &t["Resources"];
    let settings = &r["WebhookApi"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(settings["ThrottlingRateLimit"], "50");
    assert_eq!(settings["ThrottlingBurstLimit"], "100");
    assert_eq!(
        r["InboundFunction"]["Properties"]["ReservedConcurrentExecutions"],
        "20"
    );
    assert_eq!(
        r["ApiAccessLogGroup"]["Properties"]["RetentionInDays"],
        "90"
    );
}

/// Without a key: AWS managed encryption everywhere, and a key of the stack's own (rotated,
/// usable by CloudWatch) for an alarm topic. With `KmsKeyArn`: that key for the functions'
/// environment, the log groups, the alarm topic and a single-region table.
#[test]
fn encryption_keys_follow_kms_key_arn() {
    let t = rendered(&[("TwilioAuthToken", "x")]);
    let r = &t["Resources"];
    assert!(r["AlarmTopic"].is_null() && r["AlarmTopicKey"].is_null());
    assert!(r["InboundFunction"]["Properties"]["KmsKeyArn"].is_null());
    assert_eq!(
        r["RoutesTable"]["Properties"]["SSESpecification"],
        serde_json::json!({"SSEEnabled": true})
    );

    let t = rendered(&[("TwilioAuthToken", "x"), ("AlarmEmail", "ops@example.com")]);
    let r = &t["Resources"];
    let key = &r["AlarmTopicKey"]["Properties"];
    assert_eq!(key["EnableKeyRotation"], true);
    let statements = key["KeyPolicy"]["Statement"].as_array().unwrap();
    assert!(
        statements
            .iter()
            .any(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com"),
        "CloudWatch may use the key: {statements:?}"
    );
    assert_eq!(
        r["AlarmTopic"]["Properties"]["KmsMasterKeyId"],
        serde_json::json!({"Ref": "AlarmTopicKey"})
    );

    let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let t = rendered(&[
        ("TwilioAuthToken", "x"),
        ("AlarmEmail", "ops@example.com"),
        ("KmsKeyArn", arn),
    ]);
    let r = &t["Resources"];
    assert!(
        r["AlarmTopicKey"].is_null(),
        "the given key is used instead"
    );
    assert_eq!(r["AlarmTopic"]["Properties"]["KmsMasterKeyId"], arn);
    for function in ["InboundFunction", "OutboundFunction"] {
        assert_eq!(r[function]["Properties"]["KmsKeyArn"], arn, "{function}");
    }
    for group in ["InboundLogGroup", "OutboundLogGroup", "ApiAccessLogGroup"] {
        assert_eq!(r[group]["Properties"]["KmsKeyId"], arn, "{group}");
    }
    assert_eq!(
        r["RoutesTable"]["Properties"]["SSESpecification"],
        serde_json::json!({"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": arn})
    );
}
