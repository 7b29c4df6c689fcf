#!/usr/bin/env python3
"""Writes the API Gateway events in this folder, signed as Twilio would sign them.

Run it after changing an event: `python3 events/generate.py`. Standard library only. The signing
here is written independently of the Rust code, so the end-to-end tests that replay these events
through the real Lambda binaries also cross-check the Rust signature implementation.
"""
import base64
import hashlib
import hmac
import json
import os
import urllib.parse

TOKEN = "byoc-events-test-token"  # documented in events/README.md; not a real credential
HOST = "abc123xyz0.execute-api.us-east-1.amazonaws.com"
ACCOUNT = "AC" + "0" * 32
TRUNK = "BY" + "0" * 32
HERE = os.path.dirname(os.path.abspath(__file__))


def sign(url, params):
    data = url + "".join(k + v for k, v in sorted(params, key=lambda kv: (kv[0].encode(), kv[1].encode())))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def call_params(to, sip=True):
    params = [
        ("AccountSid", ACCOUNT),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA" + "1" * 32),
        ("CallStatus", "ringing"),
        ("Called", to),
        ("Caller", "sip:+13175550123@198.51.100.7"),
        ("Direction", "inbound"),
        ("From", "sip:+13175550123@198.51.100.7"),
        ("To", to),
    ]
    if sip:
        params += [
            ("SipCallId", "5a1f3b2c-0d4e-4f6a-8b9c-0123456789ab@198.51.100.7"),
            ("SipDomain", "example.sip.twilio.com"),
            ("SipDomainSid", "SD" + "2" * 32),
            ("SipSourceIp", "198.51.100.7"),
            ("SipHeader_X-Carrier", "ExampleTel"),
        ]
    return params


def headers(signature, content_type=None):
    h = {
        "host": HOST,
        "user-agent": "TwilioProxy/1.1",
        "x-forwarded-for": "54.172.60.1",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "i-twilio-idempotency-token": "00000000-0000-0000-0000-000000000000",
        "x-twilio-signature": signature,
    }
    if content_type:
        h["content-type"] = content_type
    return h


def v2(method, path, query, params, signature):
    body = urllib.parse.urlencode(params) if params is not None else None
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers(signature, "application/x-www-form-urlencoded" if body is not None else None),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123xyz0",
            "domainName": HOST,
            "domainPrefix": "abc123xyz0",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "54.172.60.1",
                "userAgent": "TwilioProxy/1.1",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "27/Nov/2026:01:37:00 +0000",
            "timeEpoch": 1795743420000,
        },
        "isBase64Encoded": body is not None,
    }
    if query:
        event["queryStringParameters"] = dict(urllib.parse.parse_qsl(query))
    if body is not None:
        # API Gateway HTTP APIs deliver form bodies base64-encoded.
        event["body"] = base64.b64encode(body.encode()).decode()
    return event


def v1(method, path, stage, params, signature):
    body = urllib.parse.urlencode(params)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers(signature, "application/x-www-form-urlencoded"),
        "multiValueHeaders": {k: [v] for k, v in headers(signature, "application/x-www-form-urlencoded").items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123xyz0",
            "domainName": HOST,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": path,
            "stage": stage,
            "identity": {"sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def write(name, event):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(event, f, indent=2)
        f.write("\n")


def main():
    base = f"https://{HOST}"

    # Inbound SIP-domain call to a number with an exact route (routes.example.json).
    p = call_params("sip:+13175551234@example.sip.twilio.com;user=phone")
    write("inbound.json", v2("POST", "/inbound", "", p, sign(f"{base}/inbound", p)))

    # Inbound call in national form, matched by the +1317555* prefix route.
    p = call_params("sip:3175559876@example.sip.twilio.com:5060")
    write("inbound-prefix.json", v2("POST", "/inbound", "", p, sign(f"{base}/inbound", p)))

    # Same call as inbound.json through a REST API (payload 1.0, stage "Prod").
    p = call_params("sip:%2B13175551234@example.sip.twilio.com")
    write("inbound-rest-v1.json", v1("POST", "/inbound", "Prod", p, sign(f"{base}/Prod/inbound", p)))

    # Call status callback for the inbound.json call (its route is a Studio flow): answered 302.
    p = call_params("sip:+13175551234@example.sip.twilio.com;user=phone") + [("CallDuration", "42")]
    p = [(k, "completed" if k == "CallStatus" else v) for k, v in p]
    write("inbound-status.json", v2("POST", "/inbound/status", "", p, sign(f"{base}/inbound/status", p)))

    # Twilio's fallback request after the primary handler failed (adds ErrorCode and ErrorUrl).
    p = call_params("sip:+13175551234@example.sip.twilio.com;user=phone") + [
        ("ErrorCode", "11200"),
        ("ErrorUrl", f"{base}/inbound"),
    ]
    write("inbound-fallback.json", v2("POST", "/inbound/fallback", "", p, sign(f"{base}/inbound/fallback", p)))

    # A failover chain's post-back after its first target was busy: the state (the whole chain,
    # base64url JSON without padding) and the next step are in the action URL Twilio signs.
    chain = {
        "targets": [{"number": "+13175550199", "byoc": TRUNK, "timeout": 20}, {"client": "alice"}],
        "final": {"action": "redirect", "url": "https://example.com/voicemail"},
    }
    state = base64.urlsafe_b64encode(json.dumps(chain, separators=(",", ":")).encode()).decode().rstrip("=")
    q = f"c={state}&i=1"
    p = call_params("sip:+13175551234@example.sip.twilio.com;user=phone") + [
        ("DialCallStatus", "busy"),
        ("DialCallSid", "CA" + "4" * 32),
    ]
    write("inbound-next.json", v2("POST", "/inbound/next", q, p, sign(f"{base}/inbound/next?{q}", p)))

    # Studio TwiML Redirect widget: widget parameters in the query, call parameters in the body.
    q = urllib.parse.urlencode([("OUTBOUND_DID", "+13175550199"), ("BYOC_TRUNK_SID", TRUNK)])
    p = call_params("+13175551234", sip=False)
    write("outbound.json", v2("POST", "/outbound", q, p, sign(f"{base}/outbound?{q}", p)))

    # A GET with everything in the query string (signed over the URL alone).
    q = urllib.parse.urlencode([("OUTBOUND_DID", "3175550199"), ("BYOC_TRUNK_SID", TRUNK), ("CallSid", "CA" + "3" * 32)])
    write("outbound-get.json", v2("GET", "/outbound", q, None, sign(f"{base}/outbound?{q}", [])))

    # A call with two trunks: the first failed with a 503, and Twilio posts that to the step whose
    # URL (the validated request and the attempt) the first answer wrote; answered with a Dial over
    # the second trunk.
    second = "BY" + "1" * 32
    q = urllib.parse.urlencode([
        ("OUTBOUND_DID", "+13175550199"),
        ("BYOC_TRUNK_SID", f"{TRUNK},{second}"),
        ("ACTION_URL", f"https://webhooks.twilio.com/v1/Accounts/{ACCOUNT}/Flows/FW{'0' * 32}?FlowEvent=return"),
        ("BYOC_ATTEMPT", "1"),
    ])
    p = call_params("+13175551234", sip=False) + [
        ("DialCallStatus", "failed"),
        ("DialCallSid", "CA" + "5" * 32),
        ("DialSipResponseCode", "503"),
    ]
    write("outbound-next.json", v2("POST", "/outbound/next", q, p, sign(f"{base}/outbound/next?{q}", p)))

    # An outbound request with an unusable number: answered with a message, never a Dial.
    q = urllib.parse.urlencode([("OUTBOUND_DID", "undefined"), ("BYOC_TRUNK_SID", TRUNK)])
    p = call_params("+13175551234", sip=False)
    write("outbound-invalid.json", v2("POST", "/outbound", q, p, sign(f"{base}/outbound?{q}", p)))


if __name__ == "__main__":
    main()
