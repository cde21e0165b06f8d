#!/usr/bin/env python3
"""An example myna-hil device adapter: a PIN-only face-authentication card reader.

It speaks the adapter protocol (docs/adapter-protocol.md, version 1) over TCP as the device
under test, reaches the harness's emulated My Number Card through the PC/SC reader named in
`card_present` (pyscard), and the qualification-service simulator over HTTP at
`service_url` (urllib). Capabilities: pin, consent, registration (no face, no desk).

Usage: python3 adapter.py --port N [--host 127.0.0.1]

A vendor replaces the parts marked VENDOR: the card (their reader's own card interface)
and the display (their screens and keypad). The protocol part stays as it is.
Nothing here ever logs or sends a PIN, a key position, 照合番号B or the 個人番号.
"""
import argparse
import base64
import calendar
import concurrent.futures
import datetime
import hashlib
import json
import os
import random
import socket
import urllib.error
import urllib.request

from smartcard.System import readers as pcsc_readers  # python3-pyscard

PROTOCOL, VERSION, MAX_LINE = "myna-hil-dut", 1, 262144
CAPABILITIES = ["pin", "consent", "registration"]
KNOWN = {"hello", "case_start", "card_present", "card_removed", "clip_offer",
         "clip_chunk", "clip_end", "camera_start", "camera_frame", "camera_stop",
         "choose_method", "pin_keys", "consent", "register", "staff_check",
         "show_documents", "operator_prompt", "operator_withdraw", "reset"}

# docs/card.md: AIDs, file identifiers and commands.
JPKI_AID = bytes.fromhex("D392F000260100000001")
EF_AUTH_CERT, EF_AUTH_KEY, EF_AUTH_PIN = b"\x00\x0a", b"\x00\x17", b"\x00\x18"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# Consent items on the wire (docs/adapter-protocol.md) -> the service's consent keys.
CONSENT_KEYS = {"past_surgery": "Surgery", "care_and_medication": "Care",
                "medication": "Medication", "health_checkups": "Checkups"}


class Failure(Exception):
    """The card path failed; str() is the `card_path` failure, e.g. "ServiceDown: ..."."""


class Stop(Exception):
    """The stimulus cannot be handled now: answered with `error {code}`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- the card (VENDOR) ----

class Card:
    """The card on the reader, through PC/SC. A vendor's reader talks to its own slot."""

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)

    def __init__(self, reader_name, deadline_s):
        matches = [r for r in pcsc_readers() if str(r) == reader_name]
        if not matches:
            raise Stop("card_unreachable", "no PC/SC reader of that name")
        self.deadline_s = deadline_s
        self.conn = matches[0].createConnection()
        try:
            self._timed(self.conn.connect)
        except Failure:
            raise
        except Exception as e:  # noqa: BLE001 (pyscard raises several kinds)
            raise Stop("card_unreachable", f"connect failed: {type(e).__name__}") from None

    def _timed(self, fn, *args):
        """Runs one PC/SC call with the card deadline: a mute card fails the card path."""
        future = self.pool.submit(fn, *args)
        try:
            return future.result(timeout=self.deadline_s)
        except concurrent.futures.TimeoutError:
            self.conn = None  # abandoned: the harness resets the emulated card
            raise Failure("ReaderError: the card did not answer in time") from None
        except Exception as e:  # noqa: BLE001
            raise Failure(f"ReaderError: {type(e).__name__}") from None

    def apdu(self, command):
        """Sends one APDU; returns (data, sw) with sw as an int (0x9000)."""
        if self.conn is None:
            raise Failure("ReaderError: the card is gone")
        data, sw1, sw2 = self._timed(self.conn.transmit, list(command))
        return bytes(data), (sw1 << 8) | sw2

    def select_ap(self, aid):
        return self.apdu(b"\x00\xa4\x04\x0c" + bytes([len(aid)]) + aid)[1]

    def select_ef(self, fid):
        return self.apdu(b"\x00\xa4\x02\x0c\x02" + fid)[1]

    def read_ef(self):
        """Reads the selected EF, a DER object (30 82 LL LL ...), in 256-byte chunks."""
        head, sw = self.apdu(b"\x00\xb0\x00\x00\x04")
        if sw != 0x9000:
            return None, sw
        size = ((head[2] << 8) | head[3]) + 4
        body = bytearray(head)
        while len(body) < size:
            n = min(256, size - len(body))
            chunk, sw = self.apdu(bytes([0, 0xB0, len(body) >> 8, len(body) & 0xFF, n & 0xFF]))
            if sw != 0x9000 or not chunk:
                return None, sw
            body += chunk
        return bytes(body[:size]), 0x9000

    def verify(self, value=b""):
        """VERIFY on the selected PIN EF. Without a value it only asks for the tries left."""
        command = b"\x00\x20\x00\x80" + (bytes([len(value)]) + value if value else b"")
        return self.apdu(command)[1]

    def sign(self, digest_info):
        """COMPUTE DIGITAL SIGNATURE with the selected key (its PIN verified)."""
        return self.apdu(b"\x80\x2a\x00\x80" + bytes([len(digest_info)]) + digest_info + b"\x00")

    def close(self):
        conn, self.conn = self.conn, None
        if conn is not None:  # in the background: a blocked transmit must not hold us
            self.pool.submit(conn.disconnect)


# ---------------------------------------------- the certificate (a tiny DER reader) ----

def der(buf, pos):
    """One DER TLV at pos: (tag, value start, value end)."""
    tag, length, pos = buf[pos], buf[pos + 1], pos + 2
    if length & 0x80:
        n = length & 0x7F
        length, pos = int.from_bytes(buf[pos:pos + n], "big"), pos + n
    return tag, pos, pos + length


def children(buf, start, end):
    while start < end:
        tag, vs, ve = der(buf, start)
        yield tag, vs, ve
        start = ve


def certificate_facts(cert):
    """(notAfter date, RSA modulus, RSA exponent) of an X.509 certificate (RFC 5280)."""
    _, cs, ce = der(cert, 0)
    _, ts, te = next(children(cert, cs, ce))  # tbsCertificate
    fields = list(children(cert, ts, te))
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    _, vs, ve = fields[3]  # serial, signature, issuer, validity, subject, spki
    _, na_s, na_e = list(children(cert, vs, ve))[1]
    text = cert[na_s:na_e].decode("ascii")
    if len(text) == 13:  # UTCTime YYMMDDhhmmssZ (RFC 5280: 50-99 -> 19xx)
        year = int(text[:2])
        text = str(1900 + year if year >= 50 else 2000 + year) + text[2:]
    not_after = datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    _, ks, ke = fields[5]
    _, bs, be = list(children(cert, ks, ke))[1]  # subjectPublicKey BIT STRING
    _, rs, re_ = der(cert, bs + 1)  # skip the unused-bits byte: RSAPublicKey SEQUENCE
    (_, ns, ne), (_, es, ee) = children(cert, rs, re_)
    return not_after, int.from_bytes(cert[ns:ne], "big"), int.from_bytes(cert[es:ee], "big")


def grace_end(not_after):
    """The last day of the 3rd month after the month of expiry (reception-rules.md)."""
    month = not_after.month + 3
    year, month = not_after.year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


# ----------------------------------------------------------------- the session ----

class Session:
    def __init__(self, conn):
        self.rfile, self.wfile = conn.makefile("rb"), conn.makefile("wb")
        self.t0 = datetime.datetime.now().timestamp()
        self.consent_store = {}  # facility -> consent flags: kept across patients
        self.last_layout = None
        self.setup = {}
        self.idle()

    # -- the wire
    def send(self, **message):
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        self.wfile.write(line.encode("utf-8") + b"\n")
        self.wfile.flush()

    def event(self, kind, **fields):
        at_ms = round((datetime.datetime.now().timestamp() - self.t0) * 1000, 3)
        self.last_ms = max(getattr(self, "last_ms", 0.0), at_ms)  # never goes back
        self.send(type=kind, at_ms=self.last_ms, **fields)

    def note(self, text):
        self.event("note", text=text)

    def lines(self):
        """Lines without their newline; never holds more than MAX_LINE + 1 bytes."""
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE:
                    return  # the harness closed the connection
                while line and not line.endswith(b"\n"):
                    line = self.rfile.readline(MAX_LINE + 1)
                self.send(type="error", code="line_too_long", message="line too long")
                continue
            if line.strip():
                yield line[:-1]

    # -- the display (VENDOR: your screens; the names are the harness's vocabulary)
    def screen(self, name):
        self.event("screen", name=name)

    def idle(self):
        if getattr(self, "card", None) is not None:
            self.card.close()
        self.card = self.cert = self.layout = self.answer = None
        self.state = "idle"  # idle, chosen, pin, consent, registration, ended
        self.data_only = False

    # -- the card path
    def fail(self, why):
        self.screen("card_error")
        self.event("card_path", ok=False, failure=why)
        self.state = "ended"

    def card_present(self, m):
        if not m.get("reader"):
            raise Stop("unsupported", "this adapter reaches cards through PC/SC only")
        self.screen("reading_card")
        deadline = self.setup.get("card_deadline_ms") or 5000
        self.card = Card(m["reader"], deadline / 1000)
        self.state = "chosen"
        if self.card.select_ap(JPKI_AID) != 0x9000:
            raise Failure("ReaderError: no JPKI application")
        if not self.read_certificate(optional=True):
            self.screen("choose_method")

    def read_certificate(self, optional=False):
        """Reads and checks the authentication certificate; True if the path failed."""
        if self.card.select_ef(EF_AUTH_CERT) != 0x9000:
            raise Failure("ReaderError: no authentication certificate")
        cert, sw = self.card.read_ef()
        if sw == 0x6982 and optional:
            return False  # a smartphone token: readable after the PIN
        if cert is None:
            raise Failure(f"ReaderError: certificate read answered {sw:04X}")
        self.cert = cert
        not_after, self.modulus, self.exponent = certificate_facts(cert)
        today = datetime.date.fromisoformat(self.setup.get("today") or str(datetime.date.today()))
        if today > grace_end(not_after):
            self.fail("CertificateExpired: past the grace period")
            return True
        self.data_only = today > not_after
        return False

    def choose_method(self, m):
        if self.state in ("consent", "registration"):
            self.note("method not asked for: already authenticated")
            return
        if self.state != "chosen":
            raise Stop("not_now", "no card waiting for a method")
        if m.get("method") != "pin":
            raise Stop("unsupported", "this reader has no face path")
        self.card.select_ef(EF_AUTH_PIN)
        sw = self.card.verify()  # no data: spends no try, answers 63Cx
        if sw & 0xFFF0 != 0x63C0:
            raise Failure(f"ReaderError: PIN status answered {sw:04X}")
        if sw == 0x63C0:
            self.screen("pin_locked")
            self.fail("PinLocked: no PIN tries left")
            return
        self.show_keypad(sw & 0x0F)

    def show_keypad(self, tries_left):
        """VENDOR: your shuffled pad. A fresh permutation, never in order, never repeated."""
        layout = list(range(10))
        while layout == list(range(10)) or layout == self.last_layout:
            random.SystemRandom().shuffle(layout)
        self.layout = self.last_layout = layout
        self.state = "pin"
        self.screen("pin_entry")
        self.event("keypad_layout", digits=layout, tries_left=tries_left)

    def pin_keys(self, m):
        positions = m.get("positions")
        if not isinstance(positions, list) or len(positions) > 16 or not all(
                isinstance(p, int) and 0 <= p <= 9 for p in positions):
            raise Stop("bad_message", "positions are 0-9, at most 16")
        if self.state in ("consent", "registration"):
            self.note("PIN not asked for: already authenticated")
            return
        if self.state != "pin":
            raise Stop("not_now", "no PIN pad on screen")
        pin = "".join(str(self.layout[p]) for p in positions).encode("ascii")
        self.layout = None  # a layout is good for one entry only
        self.event("keys_pressed", count=len(positions))
        if not pin:
            self.fail("Abandoned: the patient pressed nothing")
            return
        sw = self.card.verify(pin)
        del pin
        self.event("verify_answered", sw=f"{sw:04X}")
        if sw == 0x9000:
            self.prove_key()
        elif sw in (0x63C0, 0x6984):
            self.screen("pin_locked")
            self.fail("PinLocked: the PIN is blocked")
        elif sw & 0xFFF0 == 0x63C0:
            self.screen("pin_wrong")
            self.show_keypad(sw & 0x0F)
        else:
            raise Failure(f"ReaderError: VERIFY answered {sw:04X}")

    def prove_key(self):
        """The card signs a fresh challenge with the authentication key; we check it."""
        if self.cert is None and self.read_certificate():
            return  # the smartphone token's certificate, readable now
        challenge = os.urandom(32)
        digest_info = SHA256_DIGEST_INFO + hashlib.sha256(challenge).digest()
        if self.card.select_ef(EF_AUTH_KEY) != 0x9000:
            raise Failure("ReaderError: no authentication key")
        signature, sw = self.card.sign(digest_info)
        if sw != 0x9000:
            raise Failure(f"ReaderError: signature answered {sw:04X}")
        k = (self.modulus.bit_length() + 7) // 8
        expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
        if pow(int.from_bytes(signature, "big"), self.exponent, self.modulus) != \
                int.from_bytes(expected, "big"):
            raise Failure("ReaderError: the card does not hold the certificate's key")
        self.query()

    # -- the qualification service
    def call(self, route, body):
        """POST to the service; the parsed JSON answer and the HTTP status."""
        url = self.setup.get("service_url")
        if not url:
            raise Failure("ServiceDown: no service_url")
        request = urllib.request.Request(
            url.rstrip("/") + route, data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"}, method="POST")
        timeout = (self.setup.get("service_deadline_ms") or 8000) / 1000
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return json.loads(r.read()), r.status
        except urllib.error.HTTPError as e:
            try:
                return json.loads(e.read()), e.code
            except ValueError:
                return {}, e.code
        except (OSError, ValueError) as e:  # timeouts, refused, cut or malformed bodies
            raise Failure(f"ServiceDown: {type(e).__name__}") from None

    def query(self, consent=None):
        self.screen("querying")
        body = {"certificate": base64.b64encode(self.cert).decode("ascii"),
                "facility": self.setup.get("facility") or "unknown", "consent": consent}
        answer, status = self.call("/qualification", body)
        if status != 200:
            raise Failure(f"ServiceDown: HTTP {status} {answer.get('Error', '')}".strip())
        segment, validity = answer.get("SegmentOfResult"), answer.get("QualificationValidity")
        self.event("qualification", summary=f"segment {segment}, validity {validity}, "
                                            f"error {answer.get('ErrorCode')}")
        if segment == "9":
            code = answer.get("ErrorCode") or "ServiceDown"
            if code == "NotRegistered":
                self.state = "registration"
                self.screen("registration")
                return
            raise Failure(f"{code}: {answer.get('ErrorMessage', '')}")
        if segment != "1":
            raise Failure(f"ServiceDown: SegmentOfResult {segment}")
        if validity == "2":  # found, and not insured: nothing can confirm (10割)
            self.screen("not_insured")
            self.event("card_path", ok=False, failure="NoRecord: not insured")
            self.event("outcome", route="not_confirmed", share_percent=100,
                       limit_applied=False, qualification_data_only=False)
            self.state = "ended"
            return
        if validity == "4":
            raise Failure("NoRecord: no qualification found")
        if validity not in ("1", "3"):  # 3: invalid, but a newer qualification exists
            raise Failure(f"ServiceDown: QualificationValidity {validity}")
        self.answer = answer
        if answer.get("CertificateStatus") == "ExpiredInGracePeriod":
            self.data_only = True
        if consent is not None or self.data_only:
            self.finish()  # in the grace period: qualification data only, no consent
            return
        self.state = "consent"
        reuse = self.setup.get("facility") in self.consent_store
        self.screen("consent_reuse" if reuse else "consent")

    def register(self, m):
        if self.state != "registration":
            self.note("registration not asked for")  # a registered card: nobody asks
            return
        if not m.get("accept"):
            self.fail("NotRegistered: the patient declined registration")
            return
        self.screen("registration_terms")
        answer, status = self.call(
            "/registration", {"certificate": base64.b64encode(self.cert).decode("ascii")})
        if status != 200 or answer.get("Registered") is not True:
            raise Failure(f"{answer.get('Error') or 'ServiceDown'}: registration refused")
        self.screen("registration_done")
        self.query()

    def consent(self, m):
        if self.state != "consent":
            raise Stop("not_now", "no consent screen")
        choice, facility = m.get("choice"), self.setup.get("facility")
        if choice == "reuse":
            if facility not in self.consent_store:
                raise Stop("not_now", "no earlier consent at this facility")
            flags = self.consent_store[facility]
        elif choice == "all":
            flags = {key: True for key in CONSENT_KEYS.values()}
        elif choice in ("none", "items"):
            self.screen("consent_items")
            chosen = (m.get("items") or []) if choice == "items" else []
            if not all(i in CONSENT_KEYS for i in chosen):
                raise Stop("bad_message", "unknown consent item")
            flags = {key: name in chosen for name, key in CONSENT_KEYS.items()}
        else:
            raise Stop("bad_message", "choice is all, none, reuse or items")
        self.consent_store[facility] = flags
        self.query(consent=flags)  # the service records the consent for this facility

    def finish(self):
        q = self.answer.get("Qualification") or {}
        ratio = q.get("InsuredPartialContributionRatio")
        share = int(ratio) if ratio else None
        if share is None:
            self.note("the service named no co-payment share; 30% assumed")
            share = 30
        self.event("card_path", ok=True)
        self.screen("result")
        # The high-cost limit applies at the counter when a limit category is known.
        limit = q.get("LimitApplicationCertificateClassificationFlag") or \
            self.setup.get("limit_category")
        self.event("outcome", route="card_pin", share_percent=share,
                   limit_applied=bool(limit), qualification_data_only=self.data_only)
        self.state = "ended"

    # -- the stimuli
    def case_start(self, m):
        self.idle()
        self.t0, self.last_ms = datetime.datetime.now().timestamp(), 0.0
        self.setup = m
        # The test bench tells us this patient's earlier consent (a real device keeps it).
        self.consent_store = {}
        for h in m.get("consent_history") or []:
            chosen = list(CONSENT_KEYS) if h.get("choice") == "all" else h.get("items") or []
            self.consent_store[h.get("facility")] = {
                key: name in chosen for name, key in CONSENT_KEYS.items()}
        # No `screen idle` here: what comes before the `done` of `case_start` is dropped.

    def handle(self, kind, m):
        if kind == "case_start":
            self.case_start(m)
        elif kind == "reset":
            self.idle()
            self.screen("idle")
        elif kind == "card_removed":
            self.idle()
            self.screen("idle")
        elif kind in ("camera_frame", "operator_withdraw"):
            return  # no id, no answer; this reader has no camera and no test UI
        elif kind not in KNOWN:
            raise Stop("unknown_type", f"unknown type {kind}"[:200])
        elif kind in ("card_present", "choose_method", "pin_keys", "consent", "register"):
            if kind != "card_present" and self.card is None:
                raise Stop("not_now", "no card on the reader")
            try:
                getattr(self, kind)(m)
            except Failure as f:
                self.fail(str(f)[:200])
        else:
            raise Stop("unsupported", f"{kind} needs a capability this reader lacks")
        self.send(type="done", id=m.get("id"))

    def run(self):
        for line in self.lines():
            try:
                m = json.loads(line.decode("utf-8"))
                if not isinstance(m, dict) or not isinstance(m.get("type"), str):
                    raise ValueError("not a message")
            except ValueError:  # also UnicodeDecodeError and JSONDecodeError
                self.send(type="error", code="bad_message", message="not a JSON message")
                continue
            kind, sid = m["type"], m.get("id")
            if kind == "hello":
                if m.get("protocol") != PROTOCOL or m.get("version") != VERSION:
                    self.send(type="error", code="version_mismatch",
                              message=f"this adapter speaks {PROTOCOL} version {VERSION}",
                              supported_versions=[VERSION])
                    return
                self.send(type="hello", protocol=PROTOCOL, version=VERSION,
                          vendor="Example", model="adapter-python", firmware="0.1",
                          capabilities=CAPABILITIES)
                continue
            if kind not in ("camera_frame", "operator_withdraw") and not isinstance(sid, int):
                self.send(type="error", code="bad_message", message="a stimulus needs an id")
                continue
            try:
                self.handle(kind, m)
            except Stop as e:
                self.send(type="error", id=sid, code=e.code, message=str(e))
            except Exception as e:  # noqa: BLE001: never crash, never leak a value
                self.send(type="error", id=sid, code="internal", message=type(e).__name__)
        self.idle()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4711, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    with socket.create_server((args.host, args.port)) as server:
        print("listening on", server.getsockname()[1], flush=True)
        while True:  # one connection is one session
            conn, _ = server.accept()
            with conn:
                try:
                    Session(conn).run()
                except OSError:
                    pass  # the harness dropped the link: wait for the next session


if __name__ == "__main__":
    main()
