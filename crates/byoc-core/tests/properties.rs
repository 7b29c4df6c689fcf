//! Property tests (proptest): normalization, the TwiML writer, signature verification and route
//! serialization, each over generated input.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::Reader;
use sha1::Sha1;

use byoc_core::import::{self, Format};
use byoc_core::number::NumberPlan;
use byoc_core::params::Params;
use byoc_core::route::RouteTable;
use byoc_core::route_file::{parse_route_file, to_route_file};
use byoc_core::signature::{sign, verify};
use byoc_core::strategy;
use byoc_core::twiml::{is_xml_char, DialOptions, Method, Noun, Response, Verb};

/// Strings shaped like what carriers put in `To`: SIP / tel URIs, numbers with separators,
/// percent escapes, brackets, parameters; plus anything at all.
fn address_like() -> impl Strategy<Value = String> {
    // Pieces that mean something to the rules (escapes of `:` `@` `;` `%` `+`, schemes, brackets,
    // separators) glued in any order, so odd combinations come up often.
    let piece = prop_oneof![
        Just("sip:"),
        Just("sips:"),
        Just("tel:"),
        Just("%3A"),
        Just("%40"),
        Just("%3B"),
        Just("%25"),
        Just("%2B"),
        Just("%3C"),
        Just("%3E"),
        Just("%20"),
        Just("@"),
        Just(";"),
        Just(":"),
        Just("?"),
        Just("<"),
        Just(">"),
        Just("+"),
        Just(" "),
        Just("-"),
        Just("("),
        Just(")"),
        Just("."),
        Just("00"),
        Just("011"),
        Just("0"),
        Just("1"),
        Just("317"),
        Just("5551234"),
        Just("user=phone"),
        Just("support"),
        Just("*"),
        Just("#"),
        Just("é"),
        Just("%"),
        Just("%C3%A9"),
        Just("\t"),
        Just("(0)"),
        Just("44"),
        Just("0011"),
        Just("010"),
        Just("7700900123"),
        Just(";phone-context=+1317"),
        Just(";phone-context=+"),
        Just(";ext="),
        Just(" x"),
        Just("ext. "),
        Just("\"Bob\" <"),
        Just("\u{a0}"),
        Just("\u{2013}"),
        Just("\u{ff0b}"),
        Just("\u{ff14}"),
        Just("\u{200e}"),
        Just("\u{0663}"),
        Just("anonymous"),
        Just("+266696687"),
    ];
    let glued = proptest::collection::vec(piece, 0..10).prop_map(|p| p.concat());
    let user = "[+]?[0-9 ().-]{0,18}|[a-zA-Z0-9%*#+._~!-]{0,20}|%2[bB][0-9]{0,15}";
    let host = "[a-z0-9.-]{0,20}(:[0-9]{1,5})?(;[a-z]+=[a-z0-9]+)?";
    prop_oneof![
        glued,
        (
            prop_oneof![
                Just("sip:"),
                Just("SIP:"),
                Just("sips:"),
                Just("tel:"),
                Just("")
            ],
            user,
            prop_oneof![Just(";user=phone"), Just(""), Just(":pw")],
            host
        )
            .prop_map(|(scheme, user, param, host)| format!("{scheme}{user}{param}@{host}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalization_never_panics_and_is_idempotent(
        input in address_like(),
        cc in prop_oneof![Just("1"), Just("44"), Just("49"), Just("61"), Just("81"), Just("55"), Just("91")],
    ) {
        let plan = NumberPlan::new(cc).unwrap();
        if let Ok(address) = plan.normalize(&input) {
            prop_assert_eq!(plan.normalize(address.as_str()), Ok(address.clone()), "input {:?}", input);
            if let Some(digits) = address.digits() {
                prop_assert!((3..=15).contains(&digits.len()));
            }
        }
        let _ = plan.caller_digits(&input);
        let _ = byoc_core::number::is_anonymous(&input);
    }

    /// The outbound check never panics, and what it lets through is a number its own policy
    /// accepts again, or an allowed emergency code.
    #[test]
    fn the_outbound_check_never_panics_and_only_passes_what_it_allows(
        input in address_like(),
        cc in prop_oneof![Just("1"), Just("44"), Just("61")],
        wide in any::<bool>(),
    ) {
        use byoc_core::outbound::{check_destination, OutboundConfig, Policy};
        let plan = NumberPlan::new(cc).unwrap();
        let mut policy = Policy::for_plan(&plan);
        if wide {
            policy.allowed_prefixes = vec!["+".into()];
        }
        let config = OutboundConfig { plan, policy, ..OutboundConfig::default() };
        if let Ok((number, extension)) = check_destination(&input, &config) {
            prop_assert!(number.starts_with('+'), "{:?} -> {}", input, number);
            prop_assert!(config.policy.check_destination(&number).is_ok());
            if let Some(ext) = extension {
                prop_assert!(!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}

type Element = (String, Vec<(String, String)>, String);

/// Every element path with its attributes and text, from XML that must be well-formed.
fn parse_xml(xml: &str) -> Result<Vec<Element>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                stack.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    attrs.push((
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        a.unescape_value().map_err(|e| e.to_string())?.into_owned(),
                    ));
                }
                out.push((stack.join("/"), attrs, String::new()));
                if matches!(event, Event::Empty(_)) {
                    stack.pop();
                } else {
                    open.push(out.len() - 1);
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                let at = *open.last().ok_or("text outside the root element")?;
                out[at].2.push_str(&text);
            }
            Event::End(_) => {
                stack.pop();
                open.pop();
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    Ok(out)
}

fn xml_text(s: &str) -> String {
    s.chars().filter(|c| is_xml_char(*c)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn twiml_parses_and_carries_exactly_the_text_given(
        say in any::<String>(),
        voice in any::<String>(),
        url in any::<String>(),
        number in any::<String>(),
        byoc in any::<String>(),
        caller_id in any::<String>(),
        identity in any::<String>(),
    ) {
        let response = Response::new()
            .verb(Verb::Say { text: say.clone(), voice: Some(voice.clone()), language: None })
            .verb(Verb::Dial {
                options: DialOptions {
                    caller_id: Some(caller_id.clone()),
                    action: Some(url.clone()),
                    ..DialOptions::default()
                },
                nouns: vec![
                    Noun::Number { number: number.clone(), byoc: Some(byoc.clone()), send_digits: None },
                    Noun::Client { identity: identity.clone() },
                ],
            })
            .verb(Verb::Redirect { url: url.clone(), method: Method::Get });
        let xml = response.to_xml();
        let elements = parse_xml(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        let paths: Vec<&str> = elements.iter().map(|e| e.0.as_str()).collect();
        prop_assert_eq!(
            paths,
            vec![
                "Response",
                "Response/Say",
                "Response/Dial",
                "Response/Dial/Number",
                "Response/Dial/Client",
                "Response/Redirect"
            ]
        );
        let attr = |i: usize, name: &str| {
            elements[i].1.iter().find(|a| a.0 == name).map(|a| a.1.clone())
        };
        prop_assert_eq!(&elements[1].2, &xml_text(&say));
        prop_assert_eq!(attr(1, "voice"), Some(xml_text(&voice)));
        prop_assert_eq!(attr(2, "callerId"), Some(xml_text(&caller_id)));
        prop_assert_eq!(attr(2, "action"), Some(xml_text(&url)));
        prop_assert_eq!(&elements[3].2, &xml_text(&number));
        prop_assert_eq!(attr(3, "byoc"), Some(xml_text(&byoc)));
        prop_assert_eq!(&elements[4].2, &xml_text(&identity));
        prop_assert_eq!(&elements[5].2, &xml_text(&url));
    }
}

/// Twilio's algorithm written out independently: the URL, then each name and value, sorted by
/// name (then value).
fn reference_string(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
    let mut data = url.as_bytes().to_vec();
    for (name, value) in sorted {
        data.extend_from_slice(name.as_bytes());
        data.extend_from_slice(value.as_bytes());
    }
    data
}

/// HMAC-SHA1 of the reference string, base64.
fn reference_sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(&reference_string(url, params));
    STANDARD.encode(mac.finalize().into_bytes())
}

fn to_params(pairs: &[(String, String)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// `s` with the character at `at` (modulo its length) replaced by `c`; `None` if that changes
/// nothing.
fn mutate(s: &str, at: usize, c: char) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return None;
    }
    let i = at % chars.len();
    if chars[i] == c {
        return None;
    }
    chars[i] = c;
    Some(chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn signature_verification_never_panics(
        url in any::<String>(),
        body in any::<Vec<u8>>(),
        header in any::<Option<String>>(),
    ) {
        let params = Params::from_form(&body);
        let _ = verify("token", &url, &params, header.as_deref());
        let _ = byoc_core::signature::verify_with_body("token", &url, &body, header.as_deref());
    }

    #[test]
    fn signatures_match_the_reference_and_any_mutation_is_refused(
        token in "[a-f0-9]{32}",
        url in "https://[a-z]{1,10}\\.example\\.com(:8443)?/[a-z/]{0,12}(\\?[a-z]=[a-zA-Z0-9%]{0,8})?",
        params in proptest::collection::vec(("[A-Za-z_]{1,12}", any::<String>()), 0..8),
        which in 0usize..4,
        at in any::<usize>(),
        c in any::<char>(),
    ) {
        let good = reference_sign(&token, &url, &params);
        prop_assert_eq!(&sign(&token, &url, &to_params(&params)), &good);
        prop_assert_eq!(verify(&token, &url, &to_params(&params), Some(&good)), Ok(()));

        let original = reference_string(&url, &params);
        let mutated = match which {
            0 => mutate(&url, at, c).map(|u| (u, params.clone(), good.clone())),
            1 | 2 if params.is_empty() => None,
            1 => {
                let mut p = params.clone();
                let i = at % p.len();
                mutate(&p[i].0, at / 7, c).map(|n| {
                    p[i].0 = n;
                    (url.clone(), p, good.clone())
                })
            }
            2 => {
                let mut p = params.clone();
                let i = at % p.len();
                let value = mutate(&p[i].1, at / 7, c)
                    .or_else(|| p[i].1.is_empty().then(|| c.to_string()));
                value.map(|v| {
                    p[i].1 = v;
                    (url.clone(), p, good.clone())
                })
            }
            _ => mutate(&good, at, c).map(|s| (url.clone(), params.clone(), s)),
        };
        let Some((url2, params2, sig2)) = mutated else {
            return Ok(());
        };
        // A mutation that leaves the signed string unchanged (names and values are concatenated
        // without separators) cannot be told apart by Twilio's algorithm itself; nor can one
        // that changes only the host's case (hosts are case-insensitive, and Twilio's libraries
        // sign them in either case).
        let host_case_only = url2.eq_ignore_ascii_case(&url)
            && url2.split_once("://").map(|(_, r)| &r[r.find('/').unwrap_or(r.len())..])
                == url.split_once("://").map(|(_, r)| &r[r.find('/').unwrap_or(r.len())..]);
        if (which == 3 || reference_string(&url2, &params2) != original) && !host_case_only {
            prop_assert!(verify(&token, &url2, &to_params(&params2), Some(&sig2)).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn routes_round_trip_through_json_and_csv(routes in strategy::routes(12)) {
        let plan = NumberPlan::default();
        let table = RouteTable::new(routes.clone()).unwrap();
        let sorted = table.sorted();

        let json = to_route_file(&sorted);
        let back = parse_route_file(&json, &plan)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&back.sorted(), &sorted);

        let csv = import::to_csv(&sorted);
        let back = import::parse(&csv, Format::Csv, &plan)
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{csv}")))?;
        let back: Vec<Arc<_>> = back.into_iter().map(Arc::new).collect();
        prop_assert_eq!(&back, &sorted);

        for route in &routes {
            let text = serde_json::to_string(&route.to_record()).unwrap();
            let parsed: byoc_core::RouteRecord = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&byoc_core::Route::from_record(parsed, &plan).unwrap(), route);
        }
    }
}
