// The progress panel: what the daemon is really doing, in one sentence and a bar per stage.
// "All processed" is said only when no stage has anything left; a stage that cannot move
// (no model) says so; failures show on their bar and link to the list of why.
import { api, el, formatDuration, plural, report, toast } from "./api.js";

function summary(status) {
  const stages = Object.entries(status.stages);
  const pending = stages.filter(([, s]) => s.pending > 0);
  // A stage that cannot run now (its model is missing) parks its files: not work in progress.
  const parked = pending.filter(([name, s]) => s.ready === false && !name.includes("clip"));
  const waiting = pending.filter((entry) => !parked.includes(entry));
  const failed = status.files.failed;
  const model = status.model || {};
  if (!status.library.paths.length) {
    return ["empty", "No library yet: enter the folder of your photos above to start."];
  }
  if (status.files.counting) {  // the daemon's first count of the store is under way
    return ["working", "Counting the library…"];
  }
  if (!status.files.total) {
    return status.files.pending || status.queue.queued ? ["working", "Looking for photos…"]
      : ["done", "No photos found in the library folders yet; new ones are picked up as they arrive."];
  }
  // A background stage (text) runs only when the others are idle: it is never what holds
  // the library up, so it is named after them, never instead of them.
  const foreground = waiting.filter(([, s]) => !s.background);
  const behind = waiting.filter(([, s]) => s.background);
  const behindNote = behind.length ? `; in the background, ${behind.map(([name, s]) =>
    `${name} has ${s.pending} to go`).join(", ")}` : "";
  const stuck = foreground.length && foreground.every(([name]) => name.includes("clip"))
    && model.state !== "ready";
  if (stuck) {  // the model's own words are said once, below the bars
    return ["blocked", `${plural(status.files.done, "file")} read; ${foreground[0][1].pending} ` +
      `waiting for the CLIP model to embed them${model.problem ? " (see below)" : ""}${behindNote}.`];
  }
  if (waiting.length) {
    const [name, s] = foreground.length ? foreground[0] : behind[0];
    return ["working", `Working: ${name} has ${s.pending} to go` +
      (s.rate_per_s ? ` at ${s.rate_per_s}/s, about ${formatDuration(s.eta_s)} left` : "") +
      (foreground.length ? behindNote : " (in the background)") + "."];
  }
  const later = parked.map(([name, s]) => (s.model && s.model.problem ? `${name} waits (see below)`
    : `${name}: ${s.waiting_for ? `waiting for ${s.waiting_for.join(", ")}` : "not ready"}`));
  return ["done", `All ${plural(status.files.total, "file")} processed` +
    (failed ? `; ${failed} could not be read (see Status)` : "") +
    (later.length ? `; ${later.join("; ")}` : "") + "."];
}

function bar(name, s) {
  const skipped = s.skipped || 0; // an earlier stage failed these: never pending here
  const total = s.done + s.pending + s.failed + skipped;
  const part = (n) => (total ? (100 * n) / total : 0).toFixed(1);
  return el("div", { class: "stage", "data-testid": `progress-${name}`,
    "data-state": !total ? "empty" : s.pending ? "working" : "done" },
    el("span", {}, name),
    el("div", { class: "bar", role: "progressbar", "aria-label": `${name} progress`,
      "aria-valuemin": "0", "aria-valuemax": String(total),
    "aria-valuenow": String(s.done + s.failed + skipped) },
    el("div", { class: "done", style: `width:${part(s.done)}%` }),
    el("div", { class: "failed", style: `width:${part(s.failed + skipped)}%` })),
    el("span", { class: "numbers" }, !total ? "nothing yet" : `${s.done}/${total}` +
      (s.failed ? ` · ` : ""), s.failed ? el("a", { href: "/status", class: "failed-link",
      "data-testid": `failed-${name}` }, `${s.failed} failed`) : null,
    skipped ? ` · ${skipped} skipped` : "",
    s.pending && s.rate_per_s ? ` · ${s.rate_per_s}/s · ETA ${formatDuration(s.eta_s)}` : ""));
}

// Why each stage waits and what to do, one line each, with a Download button where the
// model can be downloaded from here (the hub answered); and what a stage says of the model
// it runs (a stand-in for a better one). Each said once.
function stageNotes(status) {
  const models = status.models || { hub: {}, pulls: {} };
  const lines = [];
  for (const [name, s] of Object.entries(status.stages)) {
    const model = s.model && typeof s.model === "object" ? s.model : {};
    // the CLIP model's problem has its own line above: said once
    const problem = model.problem === (status.model || {}).problem ? null : model.problem;
    const note = model.note || s.note;
    const pull = model.pull || s.pull;
    if (!problem && !note) continue;
    const pulling = pull ? (models.pulls || {})[pull] : null;
    const fromHub = pull && pull !== "mediapipe-iris";
    const offer = pull && (!fromHub || (models.hub || {}).reachable) &&
      !(pulling && pulling.state === "running");
    lines.push(el("p", { class: problem ? "error" : "note", "data-testid": `stage-note-${name}` },
      problem ? `${name} waits: ${problem}` : `${name}: ${note}`,
      pulling && pulling.state === "running" ? ` · downloading ${pull}…` : "",
      pulling && pulling.state === "failed" ? ` · the download failed: ${pulling.error}` : "",
      offer ? el("button", { type: "button", class: "link", "data-testid": `pull-${name}`,
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            await api("/api/models/pull", { method: "POST", body: { name: pull } });
            toast(`Downloading ${pull}: the ${name} stage takes it up when it is here.`, "info");
          } catch (err) {
            e.target.disabled = false;
            report(err);
          }
        } }, ` Download ${pull}`) : null));
  }
  return lines;
}

// The queue is worked newest first: everything modified after its newest file is searchable.
function readyBackTo(queue) {
  if (!queue || !queue.ready_back_to) return null;
  const when = new Date(queue.ready_back_to).toLocaleDateString(undefined,
    { year: "numeric", month: "long", day: "numeric" });
  return el("p", { class: "note", "data-testid": "ready-back-to" },
    `Ready back to ${when}: the newest photos are done first, older ones follow.`);
}

export function renderProgress(status) {
  const [state, sentence] = summary(status);
  const index = status.index || {};
  const model = status.model || {};
  const showBars = status.library.paths.length && status.files.total;
  return [
    el("div", { "data-testid": "progress-summary", "data-state": state }, sentence),
    showBars ? readyBackTo(status.queue) : null,
    ...(showBars ? Object.entries(status.stages).map(([name, s]) => bar(name, s)) : []),
    showBars ? el("div", { class: "stage" }, el("span", {}, "index"),
      el("span", {}, `${index.items ?? 0} searchable + ${index.fresh ?? 0} new`),
      el("span", { class: "numbers" }, index.age_s != null ? `built ${formatDuration(index.age_s)} ago` : "")) : null,
    model.problem ? el("p", { class: "error", "data-testid": "model-problem" },
      `Model: ${model.problem}`) : null,
    ...(showBars ? stageNotes(status) : []),
    status.library.missing.length ? el("p", { class: "error" },
      `Not found (watching for it): ${status.library.missing.join(", ")}`) : null,
  ].filter(Boolean);
}
