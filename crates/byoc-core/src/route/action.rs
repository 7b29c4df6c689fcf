//! What a route does: the actions, their TwiML, their flat fields, and which fields each
//! action may use.

use crate::route::{check_url, Chain, RouteErrorKind, Split, DEFAULT_NEXT_URL};
use crate::sid::Sid;
use crate::twiml::{DialOptions, Method, Noun, RejectReason, Verb};
use crate::{twiml, RouteRecord};

/// What a route does with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `<Redirect>` to a Studio flow webhook, a Function, a TwiML Bin or any URL.
    Redirect { url: String, method: Method },
    /// `<Dial><Number>` a number, optionally over a BYOC trunk.
    Dial {
        number: String,
        byoc: Option<Sid>,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Dial><Sip>` a SIP URI.
    Sip {
        uri: String,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Say>` a message, then hang up.
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
    },
    /// `<Reject>` the call (the caller hears busy or a rejection, and is not billed).
    Reject { reason: RejectReason },
    /// `<Hangup>`.
    Hangup,
    /// `<Dial><Client>` a Voice SDK client identity.
    Client {
        identity: String,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Dial><Application>` a TwiML App, with custom parameters.
    Application {
        sid: Sid,
        parameters: Vec<(String, String)>,
        caller_id: Option<String>,
        timeout: Option<u32>,
    },
    /// `<Enqueue workflowSid="WW…">` into TaskRouter, with optional task attributes (JSON).
    Enqueue {
        workflow: Sid,
        task_attributes: Option<String>,
    },
    /// `<Play>` an audio URL, then hang up.
    Play { url: String },
    /// `<Refer>` the call back to the SIP peer, to this URI.
    Refer { uri: String },
    /// `<Dial><Conference>` a named conference room.
    Conference { name: String },
    /// A TwiML fragment of allowed verbs, checked when written and sent as given.
    Twiml { twiml: String },
    /// `dial` with `targets`: tried in order, then a final action (see `chain`).
    Chain(Box<Chain>),
    /// `split`: calls shared between actions by weight, sticky per caller (see `split`).
    Split(Box<Split>),
}

impl Action {
    /// The action's name as written in route files.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Redirect { .. } => "redirect",
            Action::Dial { .. } => "dial",
            Action::Sip { .. } => "sip",
            Action::Say { .. } => "say",
            Action::Reject { .. } => "reject",
            Action::Hangup => "hangup",
            Action::Client { .. } => "client",
            Action::Application { .. } => "application",
            Action::Enqueue { .. } => "enqueue",
            Action::Play { .. } => "play",
            Action::Refer { .. } => "refer",
            Action::Conference { .. } => "conference",
            Action::Twiml { .. } => "twiml",
            Action::Chain(_) => "dial",
            Action::Split(_) => "split",
        }
    }

    /// The TwiML that carries out this action. A failover chain's action URL is the relative
    /// `/inbound/next`; the webhook handler uses [`Action::to_twiml_for`] with its own URL.
    pub fn to_twiml(&self) -> twiml::Response {
        self.to_twiml_for(DEFAULT_NEXT_URL)
    }

    /// The TwiML for this action, with `next_url` as a failover chain's action URL.
    pub fn to_twiml_for(&self, next_url: &str) -> twiml::Response {
        match self {
            Action::Redirect { url, method } => twiml::Response::redirect(url.clone(), *method),
            Action::Dial {
                number,
                byoc,
                caller_id,
                timeout,
            } => twiml::Response::new().verb(Verb::Dial {
                options: DialOptions {
                    caller_id: caller_id.clone(),
                    timeout: *timeout,
                    ..DialOptions::default()
                },
                nouns: vec![Noun::Number {
                    number: number.clone(),
                    byoc: byoc.as_ref().map(|s| s.to_string()),
                    send_digits: None,
                }],
            }),
            Action::Sip {
                uri,
                caller_id,
                timeout,
            } => twiml::Response::new().verb(Verb::Dial {
                options: DialOptions {
                    caller_id: caller_id.clone(),
                    timeout: *timeout,
                    ..DialOptions::default()
                },
                nouns: vec![Noun::Sip { uri: uri.clone() }],
            }),
            Action::Say {
                text,
                voice,
                language,
            } => twiml::Response::new()
                .verb(Verb::Say {
                    text: text.clone(),
                    voice: voice.clone(),
                    language: language.clone(),
                })
                .verb(Verb::Hangup),
            Action::Reject { reason } => twiml::Response::reject(*reason),
            Action::Hangup => twiml::Response::new().verb(Verb::Hangup),
            Action::Client {
                identity,
                caller_id,
                timeout,
            } => dial(
                caller_id,
                *timeout,
                Noun::Client {
                    identity: identity.clone(),
                },
            ),
            Action::Application {
                sid,
                parameters,
                caller_id,
                timeout,
            } => dial(
                caller_id,
                *timeout,
                Noun::Application {
                    sid: sid.to_string(),
                    parameters: parameters.clone(),
                },
            ),
            Action::Enqueue {
                workflow,
                task_attributes,
            } => twiml::Response::new().verb(Verb::Enqueue {
                name: None,
                workflow_sid: Some(workflow.to_string()),
                task: task_attributes.clone(),
            }),
            Action::Play { url } => twiml::Response::new()
                .verb(Verb::Play { url: url.clone() })
                .verb(Verb::Hangup),
            Action::Refer { uri } => twiml::Response::new().verb(Verb::Refer { uri: uri.clone() }),
            Action::Conference { name } => {
                dial(&None, None, Noun::Conference { name: name.clone() })
            }
            Action::Twiml { twiml } => twiml::Response::new().verb(Verb::Raw(twiml.clone())),
            Action::Chain(chain) => chain.first(next_url),
            // A call's share is chosen for its caller before the TwiML (`inbound::decide`);
            // without a caller, the first share.
            Action::Split(split) => split.shares[0].action.to_twiml_for(next_url),
        }
    }

    /// Whether this action dials (and so takes `caller_id` / `timeout`).
    pub fn is_dial(&self) -> bool {
        matches!(
            self,
            Action::Dial { .. }
                | Action::Sip { .. }
                | Action::Client { .. }
                | Action::Application { .. }
                | Action::Conference { .. }
                | Action::Chain(_)
        )
    }

    /// The action's fields as a flat object (a route record without pattern, description,
    /// schedule or metadata), as schedules' and chains' branch actions are written.
    pub fn to_flat(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut record = RouteRecord::default();
        self.fill(&mut record);
        match serde_json::to_value(record) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("pattern");
                map
            }
            _ => serde_json::Map::new(),
        }
    }

    /// Writes the action's fields into `r`.
    pub(crate) fn fill(&self, r: &mut RouteRecord) {
        r.action = Some(self.kind().to_string());
        match self {
            Action::Redirect { url, method } => {
                r.url = Some(url.clone());
                r.method = Some(method.as_str().to_string());
            }
            Action::Dial {
                number,
                byoc,
                caller_id,
                timeout,
            } => {
                r.number = Some(number.clone());
                r.byoc = byoc.as_ref().map(|s| s.to_string());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Sip {
                uri,
                caller_id,
                timeout,
            } => {
                r.uri = Some(uri.clone());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Say {
                text,
                voice,
                language,
            } => {
                r.text = Some(text.clone());
                r.voice = voice.clone();
                r.language = language.clone();
            }
            Action::Reject { reason } => r.reason = Some(reason.as_str().to_string()),
            Action::Hangup => {}
            Action::Client {
                identity,
                caller_id,
                timeout,
            } => {
                r.identity = Some(identity.clone());
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Application {
                sid,
                parameters,
                caller_id,
                timeout,
            } => {
                r.application = Some(sid.to_string());
                r.parameters = (!parameters.is_empty()).then(|| {
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(parameters)
                        .finish()
                });
                r.caller_id = caller_id.clone();
                r.timeout = *timeout;
            }
            Action::Enqueue {
                workflow,
                task_attributes,
            } => {
                r.workflow = Some(workflow.to_string());
                r.task_attributes = task_attributes.clone();
            }
            Action::Play { url } => r.url = Some(url.clone()),
            Action::Refer { uri } => r.uri = Some(uri.clone()),
            Action::Conference { name } => r.name = Some(name.clone()),
            Action::Twiml { twiml } => r.twiml = Some(twiml.clone()),
            Action::Chain(chain) => {
                let specs: Vec<_> = chain.targets.iter().map(|t| t.to_spec()).collect();
                // Sorted keys (through a Value), the same text every store writes back.
                r.targets = serde_json::to_value(&specs).ok().map(|v| v.to_string());
                r.caller_id = chain.caller_id.clone();
                r.final_action = chain
                    .final_action
                    .as_ref()
                    .map(|a| serde_json::Value::Object(a.to_flat()).to_string());
            }
            Action::Split(split) => r.shares = Some(split.to_json()),
        }
    }

    /// A redirect action for a URL given in configuration (e.g. `DEFAULT_ROUTE_URL`).
    pub fn redirect_to(url: &str, method: Method) -> Result<Self, RouteErrorKind> {
        Ok(Action::Redirect {
            url: check_url("url", url)?,
            method,
        })
    }
}

pub(crate) fn dial(
    caller_id: &Option<String>,
    timeout: Option<u32>,
    noun: Noun,
) -> twiml::Response {
    twiml::Response::new().verb(Verb::Dial {
        options: DialOptions {
            caller_id: caller_id.clone(),
            timeout,
            ..DialOptions::default()
        },
        nouns: vec![noun],
    })
}

/// Each action and the record fields it may use (any other set field is an error).
pub const ACTIONS: [(&str, &[&str]); 14] = [
    ("redirect", &["url", "method"]),
    (
        "dial",
        &["number", "byoc", "caller_id", "timeout", "targets", "final"],
    ),
    ("sip", &["uri", "caller_id", "timeout"]),
    ("say", &["text", "voice", "language"]),
    ("reject", &["reason"]),
    ("hangup", &[]),
    ("client", &["identity", "caller_id", "timeout"]),
    (
        "application",
        &["application", "parameters", "caller_id", "timeout"],
    ),
    ("enqueue", &["workflow", "task_attributes"]),
    ("play", &["url"]),
    ("refer", &["uri"]),
    ("conference", &["name"]),
    ("twiml", &["twiml"]),
    ("split", &["shares"]),
];

/// The fields action `name` may use (`None`: no such action).
pub fn action_fields(name: &str) -> Option<&'static [&'static str]> {
    ACTIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name.trim()))
        .map(|(_, fields)| *fields)
}
