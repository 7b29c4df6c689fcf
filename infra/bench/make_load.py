#!/usr/bin/env python3
"""Writes a route file with N routes and a wrk Lua script of signed inbound requests.

usage: make_load.py ROUTES OUT_DIR TOKEN BASE_URL
"""
import base64
import hashlib
import hmac
import json
import random
import sys
import urllib.parse


def sign(token, url, params):
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def main():
    n, out, token, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    with open(f"{out}/routes.json", "w") as f:
        f.write('{"routes":[')
        for i in range(n):
            f.write(json.dumps({"pattern": f"+1212{i:07d}", "url": f"https://example.com/flow/{i}?a=1&b=2"}))
            f.write(",")
        f.write('{"pattern":"+1317*","action":"say","text":"Indianapolis"},')
        f.write('{"pattern":"*","url":"https://example.com/default"}]}\n')
    rng = random.Random(42)
    lines = ["local reqs = {"]
    for j in range(200):
        if j % 4 == 3:
            to = f"sip:+1317555{rng.randrange(10000):04d}@example.sip.twilio.com"  # prefix route
        else:
            to = f"sip:+1212{rng.randrange(n):07d}@example.sip.twilio.com;user=phone"  # exact route
        params = [
            ("AccountSid", "AC" + "0" * 32), ("ApiVersion", "2010-04-01"), ("CallSid", f"CA{j:032d}"),
            ("CallStatus", "ringing"), ("Called", to), ("Caller", "sip:+13175550123@198.51.100.7"),
            ("Direction", "inbound"), ("From", "sip:+13175550123@198.51.100.7"), ("To", to),
            ("SipDomain", "example.sip.twilio.com"), ("SipSourceIp", "198.51.100.7"),
        ]
        body = urllib.parse.urlencode(params)
        lines.append("  {body=%s, sig=%s}," % (json.dumps(body), json.dumps(sign(token, f"{base}/inbound", params))))
    lines.append("}")
    lines.append("local i = 0")
    lines.append("request = function()")
    lines.append("  i = i % #reqs + 1")
    lines.append('  return wrk.format("POST", "/inbound", {["Content-Type"]="application/x-www-form-urlencoded", ["X-Twilio-Signature"]=reqs[i].sig}, reqs[i].body)')
    lines.append("end")
    with open(f"{out}/requests.lua", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
