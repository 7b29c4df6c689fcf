//! The webhooks this server answers, by path, and which a process serves.

/// A webhook this server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// "A call comes in" on the SIP domain / BYOC trunk.
    Inbound,
    /// The SIP domain's "call status changes" callback.
    InboundStatus,
    /// Twilio's "primary handler fails" URL.
    InboundFallback,
    /// A failover chain's `<Dial action>`: the next target, or the final action.
    InboundNext,
    /// The Studio TwiML Redirect widget's outbound request.
    Outbound,
    /// A failed-over outbound call's `<Dial action>`: the next trunk, or back to the flow.
    OutboundNext,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Inbound => "inbound",
            Endpoint::InboundStatus => "inbound_status",
            Endpoint::InboundFallback => "inbound_fallback",
            Endpoint::InboundNext => "inbound_next",
            Endpoint::Outbound => "outbound",
            Endpoint::OutboundNext => "outbound_next",
        }
    }

    /// The endpoint a path names by its last segments, so `/inbound`, `/Prod/inbound` and a
    /// custom domain's `/router/inbound` all work.
    pub fn from_path(path: &str) -> Option<Self> {
        let mut segments = path.trim_end_matches('/').rsplit('/');
        let last = segments.next()?;
        let before = segments.next();
        match (before, last) {
            (Some("inbound"), "status") => Some(Endpoint::InboundStatus),
            (Some("inbound"), "fallback") => Some(Endpoint::InboundFallback),
            (Some("inbound"), "next") => Some(Endpoint::InboundNext),
            (Some("outbound"), "next") => Some(Endpoint::OutboundNext),
            (_, "inbound") => Some(Endpoint::Inbound),
            (_, "outbound") => Some(Endpoint::Outbound),
            _ => None,
        }
    }
}

/// Which endpoints a process serves: each Lambda function serves its own, `byoc serve` all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub inbound: bool,
    pub outbound: bool,
}

impl Endpoints {
    pub const ALL: Self = Self {
        inbound: true,
        outbound: true,
    };
    /// `/inbound`, `/inbound/status`, `/inbound/fallback`.
    pub const INBOUND: Self = Self {
        inbound: true,
        outbound: false,
    };
    pub const OUTBOUND: Self = Self {
        inbound: false,
        outbound: true,
    };

    pub(crate) fn serves(self, endpoint: Endpoint) -> bool {
        match endpoint {
            Endpoint::Inbound
            | Endpoint::InboundStatus
            | Endpoint::InboundFallback
            | Endpoint::InboundNext => self.inbound,
            Endpoint::Outbound | Endpoint::OutboundNext => self.outbound,
        }
    }
}
