#!/usr/bin/env node
// Verifies one webhook with standardwebhooks (the Standard Webhooks
// reference implementation, pinned in package-lock.json), as a receiver
// nobody here wrote would.  Used by t/integration/test_endpoint_rotation.py.
//
//   echo '{"secret": "whsec_...", "headers": {...}, "body": "..."}' |
//       node verify-webhook.js
//
// body is the request body exactly as received (a UTF-8 string).  Prints
// one JSON line: {"ok": true} or {"ok": false, "error": "..."}; exits 0
// either way (2 only when the input itself is unusable).
'use strict';

const { Webhook } = require('standardwebhooks');

function readStdin() {
  return require('fs').readFileSync(0, 'utf8');
}

let input;
try {
  input = JSON.parse(readStdin());
  if (typeof input.secret !== 'string' || typeof input.body !== 'string' ||
      typeof input.headers !== 'object' || input.headers === null) {
    throw new Error('expected {secret: string, headers: object, body: string}');
  }
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: 'bad input: ' + e.message }) + '\n');
  process.exit(2);
}

try {
  // verify() throws WebhookVerificationError on a bad signature, missing
  // headers or a timestamp outside its 5 minute tolerance
  new Webhook(input.secret).verify(Buffer.from(input.body, 'utf8'), input.headers);
  process.stdout.write(JSON.stringify({ ok: true }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message || e) }) + '\n');
}
