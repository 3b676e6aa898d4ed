// SPDX-License-Identifier: Apache-2.0
//
// A real SSE client for the integration tests: the npm `eventsource` package
// (v4, the WHATWG EventSource on top of fetch), with custom request headers
// passed through its `fetch` option.
//
//   node es-client.js URL [--header 'Name: value']... [--count N] [--timeout S]
//
// Prints one JSON object a line on standard output:
//   {"request": n, "lastEventId": "…" | null}   each HTTP request it makes
//   {"open": true}                               each time the stream opens
//   {"event": "cdevent", "id": "…", "type": "…"} each cdevent received
//   {"error": status | null, "message": "…", "readyState": n}
// and exits 0 once --count cdevents have arrived, 2 when the connection
// failed for good (a non-200 answer: EventSource does not retry those),
// 3 on --timeout. Header values are never printed.
"use strict";

const { EventSource } = require("eventsource");

function usage() {
  process.stderr.write("usage: es-client.js URL [--header 'Name: value']... " +
                       "[--count N] [--timeout SECONDS]\n");
  process.exit(64);
}

const args = process.argv.slice(2);
let url = null;
const headers = {};
let count = 0;
let timeout = 30;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--header") {
    const value = args[++i];
    if (value === undefined || value.indexOf(":") < 1) usage();
    const colon = value.indexOf(":");
    headers[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
  } else if (arg === "--count") {
    count = parseInt(args[++i], 10);
  } else if (arg === "--timeout") {
    timeout = parseFloat(args[++i]);
  } else if (url === null) {
    url = arg;
  } else {
    usage();
  }
}
if (url === null) usage();

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

let requests = 0;
let received = 0;

const es = new EventSource(url, {
  // eventsource v4 has no `headers` option: requests go through this fetch,
  // which adds ours to the ones EventSource sets (Accept, Last-Event-ID).
  fetch: (input, init) => {
    requests += 1;
    const lastEventId = (init.headers && init.headers["Last-Event-ID"]) || null;
    emit({ request: requests, lastEventId });
    return fetch(input, { ...init, headers: { ...init.headers, ...headers } });
  },
});

function finish(code) {
  es.close();
  clearTimeout(timer);
  // Let stdout drain before leaving.
  process.stdout.write("", () => process.exit(code));
}

const timer = setTimeout(() => {
  emit({ timeout: true, received });
  finish(3);
}, timeout * 1000);

es.addEventListener("open", () => emit({ open: true }));

es.addEventListener("cdevent", (event) => {
  let type = null;
  try {
    type = JSON.parse(event.data).context.type;
  } catch (e) {
    type = "unparsable: " + e.message;
  }
  received += 1;
  emit({ event: event.type, id: event.lastEventId, type });
  if (count > 0 && received >= count) finish(0);
});

es.addEventListener("error", (event) => {
  emit({ error: event.code === undefined ? null : event.code,
         message: event.message || null, readyState: es.readyState });
  // CLOSED: a non-200 answer or a wrong content type; it will not retry.
  if (es.readyState === es.CLOSED) finish(2);
});
