# SPDX-License-Identifier: Apache-2.0
"""Header rules under attack, on the webhook and the SSE endpoints alike:
no secret (configured value, token, environment secret) and no value a
client sent ever appears in a log line at any level (G_MESSAGES_DEBUG=all
and -v); rules cannot be passed with header-name case, repeated headers,
comma-joined values, folded lines or whitespace tricks.

(The constant-time comparison itself is proven under valgrind by
tests/test-secure-equal-ct.c.)"""
import hashlib
import hmac
import json
import os
import time
import tempfile
import unittest

from cdviz_testlib import Pipeline, cdevent, read_response

EQ_SECRET = "EqSecretValue-1f0e"
PAT_SECRET = "PatSecret"
SIG_TOKEN = "SigTokenSecret-77aa"
ENV_SECRET = "EnvSecretValue-9c3d"
SSE_EQ_SECRET = "SseEqSecret-4b21"
SSE_ENV_SECRET = "SseEnvSecret-e5e5"
CLIENT_VALUES = ["ClientSentValue-a1", "ClientSentValue-b2"]

CONFIG = """
[sources.hook]
enabled = true
extractor = {{ type = "webhook", id = "rules", headers = {{ "X-Exists" = {{ type = "exists" }}, "X-Equals" = {{ type = "equals", value = "{eq}" }}, "X-Matches" = {{ type = "matches", pattern = "^{pat}-[0-9]+$" }}, "X-Secret" = {{ type = "secret", value_file = "{secret_file}" }} }} }}

[sources.signed]
enabled = true
extractor = {{ type = "webhook", id = "signed", headers = {{ "X-Hub-Signature-256" = {{ type = "signature", token = "{sig}", signature_prefix = "sha256=", signature_encoding = "hex" }} }} }}

[sinks.sse]
type = "sse"
id = "rules"

[sinks.sse.headers]
"X-Equals" = {{ type = "equals", value = "{sse_eq}" }}
"X-Secret" = {{ type = "secret", value = "{sse_secret}" }}
"""

ENV = {
    "G_MESSAGES_DEBUG": "all",
}

WEBHOOK_GOOD = [("X-Exists", "1"), ("X-Equals", EQ_SECRET), ("X-Matches", PAT_SECRET + "-42"),
                ("X-Secret", ENV_SECRET)]
SSE_GOOD = [("X-Equals", SSE_EQ_SECRET), ("X-Secret", SSE_ENV_SECRET)]


def raw_request(method, path, headers, body=b""):
    """headers: a list of (name, value) or raw header lines (bytes)."""
    lines = [("%s %s HTTP/1.1" % (method, path)).encode(), b"Host: 127.0.0.1",
             b"Connection: close"]
    if method == "POST":
        lines.append(b"Content-Length: %d" % len(body))
    for h in headers:
        lines.append(h if isinstance(h, bytes) else ("%s: %s" % h).encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # `secret` rules as in cdviz-collector: the value is the secret, here
        # read from a file (value_file) for the webhook and written inline
        # for the SSE sink.
        cls.tmp = tempfile.TemporaryDirectory(prefix="cdviz-auth-")
        secret_file = os.path.join(cls.tmp.name, "webhook-secret")
        with open(secret_file, "w") as f:
            f.write(ENV_SECRET + "\n")
        cls.p = Pipeline(CONFIG.format(eq=EQ_SECRET, pat=PAT_SECRET, sig=SIG_TOKEN,
                                       sse_eq=SSE_EQ_SECRET, secret_file=secret_file,
                                       sse_secret=SSE_ENV_SECRET),
                         args=["-v"], env=ENV)

    @classmethod
    def tearDownClass(cls):
        cls.p.close()
        cls.tmp.cleanup()

    def send(self, raw, sse=False):
        s = self.p.connect()
        s.settimeout(10)
        try:
            s.sendall(raw)
            status, _, body = read_response(s, head_only=sse)
            return status, body
        finally:
            s.close()

    def webhook(self, headers, body=None):
        body = body if body is not None else cdevent()
        return self.send(raw_request("POST", "/webhook/rules", headers, body))[0]

    def sse(self, headers):
        return self.send(raw_request("GET", "/sse/rules", headers), sse=True)[0]

    def both(self, webhook_headers, sse_headers):
        return self.webhook(webhook_headers), self.sse(sse_headers)

    def replace(self, good, name, *values_or_lines):
        """good's headers with `name` replaced by the given values (several
        values: repeated header lines) or raw lines (bytes)."""
        out = [h for h in good if h[0] != name]
        for v in values_or_lines:
            out.append(v if isinstance(v, bytes) else (name, v))
        return out

    def test_good_requests_pass(self):
        self.assertEqual(self.both(WEBHOOK_GOOD, SSE_GOOD), (201, 200))

    def test_header_name_case(self):
        # Names match whatever their case...
        lower = [(n.lower(), v) for n, v in WEBHOOK_GOOD]
        upper = [(n.upper(), v) for n, v in SSE_GOOD]
        self.assertEqual(self.both(lower, upper), (201, 200))
        # ...and a differently-cased wrong header first still decides.
        self.assertEqual(self.both([("x-equals", "wrong")] + WEBHOOK_GOOD,
                                   [("X-EQUALS", "wrong")] + SSE_GOOD), (403, 403))
        self.assertEqual(self.both([("x-secret", "wrong")] + WEBHOOK_GOOD,
                                   [("x-SECRET", "wrong")] + SSE_GOOD), (403, 403))

    def test_repeated_headers_first_value_checked(self):
        for name, good_value in (("X-Equals", None), ("X-Secret", None)):
            wh = dict(WEBHOOK_GOOD)[name]
            ss = dict(SSE_GOOD)[name]
            # wrong first, right second: refused
            self.assertEqual(self.both(self.replace(WEBHOOK_GOOD, name, "wrong", wh),
                                       self.replace(SSE_GOOD, name, "wrong", ss)), (403, 403))
            # empty first, right second: refused (as missing)
            self.assertEqual(self.both(self.replace(WEBHOOK_GOOD, name, "", wh),
                                       self.replace(SSE_GOOD, name, "", ss)), (401, 401))
        # matches: a bad first value, a good second one
        self.assertEqual(self.webhook(self.replace(WEBHOOK_GOOD, "X-Matches", "nope",
                                                   PAT_SECRET + "-1")), 403)

    def test_comma_joined_values(self):
        for name in ("X-Equals", "X-Secret"):
            wh = dict(WEBHOOK_GOOD)[name]
            ss = dict(SSE_GOOD)[name]
            for fmt in ("wrong, %s", "%s, wrong", "%s,%s", "wrong,%s"):
                self.assertEqual(
                    self.both(self.replace(WEBHOOK_GOOD, name, fmt.replace("%s", wh)),
                              self.replace(SSE_GOOD, name, fmt.replace("%s", ss))),
                    (403, 403), (name, fmt))
        self.assertEqual(self.webhook(self.replace(WEBHOOK_GOOD, "X-Matches",
                                                   "nope, %s-1" % PAT_SECRET)), 403)

    def test_whitespace_tricks(self):
        for name in ("X-Equals", "X-Secret"):
            wh = dict(WEBHOOK_GOOD)[name]
            ss = dict(SSE_GOOD)[name]
            # Inside the value: different value.
            for fmt in ("%s x", "x %s", "%s\tx", wh[:3] + " " + "%s"[0:0] + wh[3:]):
                w = fmt.replace("%s", wh) if "%s" in fmt else fmt
                s = fmt.replace("%s", ss) if "%s" in fmt else ss[:3] + " " + ss[3:]
                self.assertEqual(self.both(self.replace(WEBHOOK_GOOD, name, w),
                                           self.replace(SSE_GOOD, name, s)), (403, 403),
                                 (name, fmt))
            # Leading and trailing blanks are not part of a field value (RFC
            # 9110 §5.5): the same value, accepted.
            for fmt in (" %s", "%s ", "\t%s\t", "  %s  "):
                self.assertEqual(
                    self.both(self.replace(WEBHOOK_GOOD, name, fmt % wh),
                              self.replace(SSE_GOOD, name, fmt % ss)), (201, 200), (name, fmt))
            # A space before the colon, a folded line after a wrong value, a
            # header line that starts with a blank: never accepted. (A value
            # folded onto the next line after nothing is the same value:
            # obs-fold is a space, RFC 9112 §5.2.)
            for line in (b"%s : %s", b"%s: wrong\r\n %s", b" %s: %s", b"%s: wrong\r\n\t%s"):
                nb = name.encode()
                ws = self.both(self.replace(WEBHOOK_GOOD, name, line % (nb, wh.encode())),
                               self.replace(SSE_GOOD, name, line % (nb, ss.encode())))
                self.assertNotIn(ws[0], range(200, 300), (name, line))
                self.assertNotIn(ws[1], range(200, 300), (name, line))
        # exists: a blank value is absent
        self.assertEqual(self.webhook(self.replace(WEBHOOK_GOOD, "X-Exists", "   ")), 401)
        self.assertEqual(self.webhook(self.replace(WEBHOOK_GOOD, "X-Exists", "\t")), 401)

    def test_signature_tricks(self):
        body = cdevent("artifact_published")
        sig = "sha256=" + hmac.new(SIG_TOKEN.encode(), body, hashlib.sha256).hexdigest()
        wrong = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()

        def post(headers):
            return self.send(raw_request("POST", "/webhook/signed", headers, body))[0]

        self.assertEqual(post([("X-Hub-Signature-256", sig)]), 201)
        self.assertEqual(post([("x-hub-signature-256", sig)]), 201)
        # Several space-separated signatures are candidates (key rotation,
        # Svix's "v1,a v1,b"): a valid one among them passes, which needs
        # the token anyway. Wrong ones, however arranged, never pass.
        self.assertEqual(post([("X-Hub-Signature-256", "%s %s" % (wrong, sig))]), 201)
        for headers in ([("X-Hub-Signature-256", wrong), ("X-Hub-Signature-256", sig)],
                        [("X-Hub-Signature-256", "%s, %s" % (wrong, wrong))],
                        [("X-Hub-Signature-256", "%s %s" % (wrong, wrong[:-1]))],
                        [("X-Hub-Signature-256", "%s,%s" % (sig, wrong))],
                        [("X-Hub-Signature-256", sig.upper())],
                        [("X-Hub-Signature-256", sig + "x")],
                        [("X-Hub-Signature-256", sig[7:])],
                        [("X-Hub-Signature-256", "")]):
            self.assertEqual(post(headers), 401, headers)

    def test_zz_no_secret_in_any_log_line(self):
        # Every rule type fails and passes, on both endpoints, with values
        # the client made up; then the logs are searched.
        for v in CLIENT_VALUES:
            self.both(self.replace(WEBHOOK_GOOD, "X-Equals", v),
                      self.replace(SSE_GOOD, "X-Equals", v))
            self.both(self.replace(WEBHOOK_GOOD, "X-Secret", v),
                      self.replace(SSE_GOOD, "X-Secret", v))
            self.webhook(self.replace(WEBHOOK_GOOD, "X-Matches", v))
            self.send(raw_request("POST", "/webhook/signed", [("X-Hub-Signature-256", v)],
                                  cdevent()))
        self.both(WEBHOOK_GOOD, SSE_GOOD)
        # Near misses: the secrets with one character changed.
        for secret in (EQ_SECRET, ENV_SECRET):
            self.webhook(self.replace(WEBHOOK_GOOD, "X-Equals", secret[:-1] + "#"))
            self.webhook(self.replace(WEBHOOK_GOOD, "X-Secret", secret[:-1] + "#"))
        time.sleep(0.2)
        self.assertEqual(self.p.stop(), 0)
        logs = self.p.stderr() + self.p.stdout()
        self.assertIn("DEBUG", logs)          # debug logging was on
        self.assertIn("X-Equals", logs)       # rule names are logged...
        for secret in (EQ_SECRET, SIG_TOKEN, ENV_SECRET, SSE_EQ_SECRET, SSE_ENV_SECRET,
                       EQ_SECRET[:-1], ENV_SECRET[:-1], *CLIENT_VALUES):
            self.assertNotIn(secret, logs)    # ...never values
        # The pattern is configuration, not a secret, but no value that a
        # client sent may show (PatSecret-42 was sent).
        self.assertNotIn(PAT_SECRET + "-42", logs)


if __name__ == "__main__":
    unittest.main()
