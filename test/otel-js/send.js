// Sends one trace to Prodex's OTLP/HTTP ingest through the OpenTelemetry
// JavaScript SDK and its protobuf exporter, and prints the trace id as the
// only line on standard output. Exits non-zero if any export fails.
// Usage: node send.js URL KEY
//   URL is the OTLP/HTTP base address, e.g. http://127.0.0.1:4318
//   (or PRODEX_OTLP_URL); KEY is an ingest key (or PRODEX_KEY).
"use strict";
const api = require("@opentelemetry/api");
const { BasicTracerProvider, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");

const url = (process.argv[2] || process.env.PRODEX_OTLP_URL || "").replace(/\/+$/, "");
const key = process.argv[3] || process.env.PRODEX_KEY || "";
if (!url || !key) {
  console.error("usage: node send.js URL KEY (or PRODEX_OTLP_URL and PRODEX_KEY)");
  process.exit(2);
}

const failures = [];
// The span processor hands export failures to the SDK's global error
// handler, which logs them through diag; count those as failures too.
let sdkErrors = 0;
api.diag.setLogger(
  {
    error: (...a) => { sdkErrors++; console.error("otel error:", ...a); },
    warn: (...a) => console.error("otel warn:", ...a),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  },
  api.DiagLogLevel.WARN,
);

const otlp = new OTLPTraceExporter({
  url: url + "/v1/traces",
  headers: { "x-honeycomb-team": key },
});
// Wraps the exporter to see the result of every export.
const exporter = {
  exported: 0,
  export(spans, done) {
    otlp.export(spans, (result) => {
      if (result.code === 0) this.exported += spans.length; // ExportResultCode.SUCCESS
      else failures.push("export of " + spans.length + " spans: " + (result.error ? result.error.message || result.error : "code " + result.code));
      done(result);
    });
  },
  shutdown: () => otlp.shutdown(),
  forceFlush: () => otlp.forceFlush(),
};

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "web-js" }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer("prodex-otel-js-test", "1.0.0");

async function main() {
  const root = tracer.startSpan("GET /home", {
    kind: api.SpanKind.SERVER,
    attributes: { "http.route": "/home", "http.status_code": 200 },
  });
  const child = tracer.startSpan("render", { attributes: { template: "home.html" } },
    api.trace.setSpan(api.context.active(), root));
  child.addEvent("cache miss");
  await new Promise((r) => setTimeout(r, 10));
  child.end();
  root.end();

  // With a failed export, flush and shutdown reject as well.
  for (const step of ["forceFlush", "shutdown"]) {
    try {
      await provider[step]();
    } catch (err) {
      failures.push(step + ": " + [].concat(err).map((e) => (e && e.message) || String(e)).join(", "));
    }
  }
  if (exporter.exported !== 2) failures.push("exported " + exporter.exported + " spans, want 2");
  if (sdkErrors > 0) failures.push(sdkErrors + " errors logged by the SDK");
  if (failures.length > 0) {
    console.error("export failed:", failures.join("; "));
    process.exit(1);
  }
  process.stdout.write(root.spanContext().traceId + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
