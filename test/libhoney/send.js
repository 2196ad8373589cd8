// Sends a known set of events to Prodex through Honeycomb's libhoney client
// and prints a JSON summary of the per-event responses it received.
// Usage: node send.js URL KEY DATASET COUNT
"use strict";
const Libhoney = require("libhoney");

const [url, key, dataset, countArg] = process.argv.slice(2);
const count = Number(countArg || 1000);

const responses = { ok: 0, failed: 0, errors: [] };
const hny = new Libhoney({
  apiHost: url,
  writeKey: key,
  dataset: dataset,
  batchSizeTrigger: 100,
  responseCallback(rs) {
    for (const r of rs) {
      if (r.status_code === 202 && !r.error) responses.ok++;
      else {
        responses.failed++;
        if (responses.errors.length < 5) responses.errors.push(String(r.error || r.status_code));
      }
    }
  },
});

const base = Date.now() - 60 * 1000;
for (let i = 0; i < count; i++) {
  const ev = hny.newEvent();
  ev.timestamp = new Date(base + i);
  ev.add({
    service: ["api", "web", "db"][i % 3],
    status_code: i % 10 === 0 ? 500 : 200,
    duration_ms: i,
    "http.route": "/r/" + (i % 7),
    nested: { ok: i % 2 === 0 },
    seq: i,
  });
  if (i % 4 === 0) {
    // Every fourth event stands for 10: sent presampled, so libhoney does
    // not drop it but tells the server its sample rate.
    ev.sampleRate = 10;
    ev.sendPresampled();
  } else {
    ev.send();
  }
}
hny.flush().then(() => {
  process.stdout.write(JSON.stringify(responses) + "\n");
});
