# SPDX-License-Identifier: Apache-2.0
"""Cdviz.HeaderValidator on its own, from Python."""
import base64
import hashlib
import hmac
import os
import unittest

from .gitestlib import Cdviz, GLib, Json
from gi.repository import Soup

RULES = """
{
  "X-Api-Key": { "type": "equals", "value": "s3cr3t" },
  "User-Agent": { "type": "matches", "pattern": "^curl/" },
  "X-Request-Id": { "type": "exists" }
}
"""


def validator(rules):
    return Cdviz.HeaderValidator.new(Json.from_string(rules))


def soup_headers(pairs):
    headers = Soup.MessageHeaders.new(Soup.MessageHeadersType.REQUEST)
    for name, value in pairs:
        headers.append(name, value)
    return headers


class HeaderValidatorTest(unittest.TestCase):
    def setUp(self):
        self.v = validator(RULES)

    def test_properties(self):
        self.assertFalse(self.v.is_empty())
        self.assertFalse(self.v.needs_body())
        self.assertTrue(Cdviz.HeaderValidator.new(None).is_empty())
        self.assertTrue(validator("{}").is_empty())

    def test_check_with_a_dict(self):
        ok = {"x-api-key": "s3cr3t", "user-agent": "curl/8.0", "x-request-id": "1"}
        self.assertEqual(self.v.check(ok, None), (200, None))

        missing = dict(ok)
        del missing["x-api-key"]
        self.assertEqual(self.v.check(missing, None),
                         (401, "Header validation failed: Header 'X-Api-Key' is missing"))

        wrong = dict(ok, **{"x-api-key": "guess"})
        self.assertEqual(self.v.check(wrong, None),
                         (403, "Header validation failed: Header 'X-Api-Key' has invalid value"))

        browser = dict(ok, **{"user-agent": "Mozilla/5.0"})
        self.assertEqual(self.v.check(browser, None),
                         (403, "Header validation failed: Header 'User-Agent' "
                               "pattern validation failed"))

        empty = dict(ok, **{"x-request-id": ""})
        self.assertEqual(self.v.check(empty, None),
                         (401, "Header validation failed: Header 'X-Request-Id' is missing"))

        # No headers at all: the first rule decides.
        self.assertEqual(self.v.check(None, None)[0], 401)
        self.assertEqual(self.v.check({}, None)[0], 401)

    def test_check_with_soup_headers(self):
        ok = [("X-API-KEY", "s3cr3t"), ("user-agent", "curl/8.0"), ("X-Request-Id", "1")]
        self.assertEqual(self.v.check_soup(soup_headers(ok), None), (200, None))

        # Only the first value of a repeated header counts.
        twice = [("X-Api-Key", "guess"), ("X-Api-Key", "s3cr3t")] + ok[1:]
        self.assertEqual(self.v.check_soup(soup_headers(twice), None),
                         (403, "Header validation failed: Header 'X-Api-Key' has invalid value"))

        self.assertEqual(self.v.check_soup(soup_headers(ok[1:]), None),
                         (401, "Header validation failed: Header 'X-Api-Key' is missing"))
        self.assertEqual(self.v.check_soup(None, None)[0], 401)

    def test_signature_over_the_body(self):
        v = validator('{"X-Hub-Signature-256": {"type": "signature", "token": "tok", '
                      '"signature_prefix": "sha256="}}')
        self.assertTrue(v.needs_body())
        body = b'{"context": {"id": "signed"}}'
        good = "sha256=" + hmac.new(b"tok", body, hashlib.sha256).hexdigest()
        self.assertEqual(v.check({"x-hub-signature-256": good}, GLib.Bytes.new(body)),
                         (200, None))
        status, message = v.check_soup(soup_headers([("X-Hub-Signature-256", good)]),
                                       GLib.Bytes.new(body + b" "))
        self.assertEqual(status, 401)
        self.assertTrue(message.startswith("Header validation failed: Header "
                                           "'X-Hub-Signature-256' signature validation failed"),
                        message)

    def test_base64_token(self):
        token = base64.b64encode(b"raw-key").decode()
        v = validator('{"Sig": {"type": "signature", "token": "%s", "token_encoding": "base64",'
                      ' "signature_encoding": "base64"}}' % token)
        body = b"payload"
        sig = base64.b64encode(hmac.new(b"raw-key", body, hashlib.sha256).digest()).decode()
        self.assertEqual(v.check({"sig": sig}, GLib.Bytes.new(body)), (200, None))

    def test_secret_is_the_value(self):
        # As cdviz-collector: `value` is the secret itself.
        v = validator('{"X-Token": {"type": "secret", "value": "s3cret-value"}}')
        self.assertEqual(v.check({"x-token": "s3cret-value"}, None), (200, None))
        self.assertEqual(v.check({"x-token": "other"}, None)[0], 403)

        with self.assertRaises(GLib.Error) as cm:
            validator('{"X-Token": {"type": "secret", "value": ""}}')
        self.assertTrue(cm.exception.matches(Cdviz.HeaderValidator.error_quark(),
                                             Cdviz.HeaderValidatorError.MISSING_SECRET))
        self.assertIn("is empty", cm.exception.message)

    def test_invalid_rules(self):
        for rules in ('{"X": {"type": "nope"}}',
                      '{"X": {"type": "matches", "pattern": "("}}',
                      '{"X": {"type": "equals"}}',
                      '["not", "a", "table"]'):
            with self.subTest(rules=rules):
                with self.assertRaises(GLib.Error) as cm:
                    validator(rules)
                self.assertEqual(cm.exception.domain, "cdviz-header-validator-error-quark")
                self.assertEqual(cm.exception.code,
                                 Cdviz.HeaderValidatorError.INVALID_RULE)

    def test_secure_equal(self):
        self.assertTrue(Cdviz.secure_equal(b"abc", b"abc"))
        self.assertFalse(Cdviz.secure_equal(b"abc", b"abd"))
        self.assertFalse(Cdviz.secure_equal(b"abc", b"abcd"))
        self.assertTrue(Cdviz.secure_equal(None, b""))


if __name__ == "__main__":
    unittest.main()
