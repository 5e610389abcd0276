// The Status page: stages, failures (downloadable), the model, the index, the version.
import { api, el, formatDuration, report, withToken } from "./api.js";

export class StatusPage {
  constructor() { this.failures = null; }

  enter() {
    document.getElementById("status-body").replaceChildren(el("p", { role: "status" }, "Loading…"));
    api("/api/failures").then((f) => { this.failures = f; }).catch(report);
    api("/api/status").then((s) => this.onStatus(s)).catch((err) => {
      document.getElementById("status-body").replaceChildren(el("p", { class: "error" },
        `The daemon did not answer: ${err.message}`));
    });
  }

  onStatus(s) {
    if (document.getElementById("page-status").hidden) return;
    // A stage that cannot run yet (no model) holds its files, it is not working on them; a
    // file an earlier stage failed is neither pending nor failed here: the counts add up.
    const stages = Object.entries(s.stages).map(([name, st]) => el("tr", {},
      el("td", {}, name), el("td", {}, st.done),
      el("td", {}, st.pending && st.ready === false ? `${st.pending} waiting` : String(st.pending)),
      el("td", {}, st.failed), el("td", {}, st.skipped || 0), el("td", {}, st.version)));
    const failures = this.failures ? this.failures.items.slice(0, 50).map((f) => el("tr", {},
      el("td", {}, f.path), el("td", {}, f.stage), el("td", {}, f.reason))) : [];
    const model = s.model || {};
    const index = s.index || {};
    // DOM's replaceChildren writes a null as the text "null": absent parts are left out.
    document.getElementById("status-body").replaceChildren(...[
      el("p", {}, `anagnorisisd ${s.version} · up ${formatDuration(s.uptime_s)} · config ${s.config}`),
      el("p", {}, `Library: ${s.library.paths.join(", ") || "not set"} · ${s.files.total} files, ${s.files.done} done, ${s.files.failed} failed, ${s.files.pending} pending`),
      el("p", { "data-testid": "status-model" }, `Model: ${model.identity || model.name} (${model.state})` +
        (model.providers && model.providers.length ? ` on ${model.providers[0]}` : "") +
        (model.problem ? ` — ${model.problem}` : "")),
      model.warning ? el("p", { class: "warning", "data-testid": "status-model-warning" },
        `Warning: ${model.warning}.`) : null,
      model.remote ? workersTable(model.remote) : null,
      el("p", {}, `Index: ${index.items ?? 0} items + ${index.fresh ?? 0} new` +
        (index.age_s != null ? `, built ${formatDuration(index.age_s)} ago` : ", not built yet")),
      el("table", { class: "table" }, el("tr", {}, ...["stage", "done", "pending", "failed", "skipped (an earlier stage failed)", "version"]
        .map((h) => el("th", { scope: "col" }, h))), ...stages),
      el("h3", {}, `Failures (${this.failures ? this.failures.total : "…"}) `,
        el("a", { href: withToken("/api/failures?format=csv"), download: "failures.csv",
          "data-testid": "failures-download" }, "download CSV")),
      el("table", { class: "table", "data-testid": "failures" },
        el("caption", { class: "sr-only" }, "Files that failed, with the stage and why"),
        el("tr", {}, ...["file", "stage", "why"].map((h) => el("th", { scope: "col" }, h))),
        ...failures),
    ].filter(Boolean));
  }
}

// One row per immich machine-learning worker ([model] backend = "remote").
function workersTable(remote) {
  const head = ["worker", "state", "latency", "images/s", "done", "bytes/image", "failures",
    "last problem"];
  return el("table", { class: "table", "data-testid": "workers" },
    el("caption", {}, `Remote workers, checked against ${remote.checked_against}`),
    el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h))),
    ...remote.workers.map((w) => el("tr", { "data-testid": "worker", "data-state": w.state },
      el("td", {}, w.url),
      el("td", {}, w.state + (w.retry_in_s ? ` (retry in ${w.retry_in_s} s)` : "")),
      el("td", {}, w.latency_ms == null ? "–" : `${w.latency_ms} ms`),
      el("td", {}, w.images_per_s), el("td", {}, w.done),
      el("td", {}, w.bytes_per_image ?? "–"), el("td", {}, w.failures),
      el("td", {}, w.refused || w.last_error || ""))));
}
