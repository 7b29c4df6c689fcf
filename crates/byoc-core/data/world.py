"""Derives the golden sets of tests/world.rs from libphonenumber, through its Python port.

    python3 -m venv /tmp/pn && /tmp/pn/bin/pip install phonenumbers==9.0.43
    /tmp/pn/bin/python crates/byoc-core/data/world.py > crates/byoc-core/tests/data/world.tsv

For each home country, numbers of every type the metadata has an example of (and of the
territories sharing its country code) are written as people and carriers write them: national
format, international format, E.164, the country code without `+`, a SIP URI with the national
digits. Each row says what libphonenumber reads (`inbound`: the E.164 number when the reading has
a full length, else `literal`) and what the router's default outbound policy must do with it
(`outbound`), from the reading's type and territory:

- `emergency`: the home country's emergency numbers (short number metadata);
- `denied_type:KIND`: premium rate, personal and pager numbers;
- `other_territory:XX`: another territory sharing the home country code (for +1: anything but
  the US, its territories and Canada);
- `not_allowed`: another country code (international is refused by default);
- `dial`: everything else.
"""
import sys

import phonenumbers as p
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T
from phonenumbers import PhoneMetadata as M
from phonenumbers.shortnumberinfo import is_emergency_number

HOMES = {"US": 1, "GB": 44, "DE": 49, "FR": 33, "AU": 61, "IN": 91, "BR": 55, "JP": 81}
NANP_HOME = {"US", "CA", "PR", "VI", "GU", "AS", "MP"}
DENIED = {T.PREMIUM_RATE: "premium_rate", T.PERSONAL_NUMBER: "personal_number", T.PAGER: "pager"}
TYPES = [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP,
         T.PERSONAL_NUMBER, T.PAGER, T.UAN, T.VOICEMAIL]


def inbound(text, home):
    # The router reads digit strings of fewer than 6 digits as extensions, never through the
    # metadata (outside the NANP, whose own rules need 10 digits anyway).
    if not text.startswith("+") and sum(c.isdigit() for c in text) < 6:
        return None
    try:
        n = p.parse(text, home)
    except p.NumberParseException:
        return None
    if p.is_possible_number_with_reason(n) != p.ValidationResult.IS_POSSIBLE:
        return None
    if n.italian_leading_zero and not p.is_valid_number(n):
        return None
    return p.format_number(n, F.E164)


def outbound(e164, home, cc):
    n = p.parse(e164)
    region = p.region_code_for_number(n)
    kind = p.number_type(n)
    if n.country_code != cc:
        return "not_allowed"
    if cc == 1:
        if region is not None and region not in NANP_HOME:
            return f"other_territory:{region}"
        if kind in DENIED:
            return f"denied_type:{DENIED[kind]}"
        return "dial"
    if kind in DENIED:
        return f"denied_type:{DENIED[kind]}"
    if region is not None and region != home:
        return f"other_territory:{region}"
    return "dial"


rows = []
for home, cc in HOMES.items():
    regions = p.COUNTRY_CODE_TO_REGION_CODE[cc]
    # Every NANP territory is too many rows: two of the others stand for them.
    if cc == 1:
        regions = ("US", "CA", "PR", "JM", "BS")
    for region in regions:
        for t in TYPES:
            ex = p.example_number_for_type(region, t)
            if ex is None:
                continue
            e164 = p.format_number(ex, F.E164)
            national = p.format_number(ex, F.NATIONAL)
            forms = {
                e164,
                p.format_number(ex, F.INTERNATIONAL),
                national,
                f"{cc}{p.national_significant_number(ex)}",
                "sip:" + "".join(c for c in national if c.isdigit()) + "@carrier.example",
            }
            for text in sorted(forms):
                read = inbound(text, home)
                if read is None:
                    continue
                rows.append((home, text, read, outbound(read, home, cc)))
    # Another country, an extension, the home's emergency numbers.
    other = "+33123456789" if cc != 33 else "+442071234567"
    rows.append((home, other, other, "not_allowed"))
    for text in ("4321", "12345"):
        read = inbound(text, home) or "literal"
        rows.append((home, text, read, "bad" if read == "literal" else outbound(read, home, cc)))
    for number in sorted({"112", "911", "999", "000", "110"}):
        if is_emergency_number(number, home):
            rows.append((home, number, "literal", "emergency"))

sys.stdout.write(f"# derived by data/world.py from phonenumbers {p.__version__}\n")
sys.stdout.write("home\tinput\tinbound\toutbound\n")
for row in rows:
    sys.stdout.write("\t".join(row) + "\n")
