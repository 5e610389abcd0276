// The cull overview: the review queue, the two trash-everything actions (each counted and
// confirmed first), and the undo list that follows every trash, kept across reloads.
import { api, el, formatBytes, plural, report, thumb, toast } from "./api.js";

const UNDO_KEY = "anagnorisisd-undo";

// /api/cull's groups, ready for the compare view.
export async function reviewQueue() {
  const queue = await api("/api/cull");
  for (const group of queue.groups) group.suggestedReason = group.suggested_reason;
  return queue;
}

// Trash files, then offer to put them back: the one path every trash in the panel takes.
// With a cull plan's `generation`, the daemon refuses (409) if a pick or reject came in since.
export async function trashWithUndo(files, what, generation = null) {
  const body = { files: files.map(({ id, path }) => ({ id, path })) };
  if (generation !== null) body.generation = generation;
  const result = await api("/api/files/trash", { method: "POST", body });
  showUndo(result.trashed, `Moved ${plural(result.trashed.length, "file")} (${what}) to ${result.trash}` +
    (result.failed.length ? `; ${result.failed.length} could not be moved: ${result.failed[0].error}` : ""));
  return result;
}

export function showUndo(paths, message) {
  if (paths.length) localStorage.setItem(UNDO_KEY, JSON.stringify({ paths, message }));
  renderUndo(paths, message);
}

export function restoreUndo() {
  try {
    const saved = JSON.parse(localStorage.getItem(UNDO_KEY) || "null");
    if (saved && saved.paths.length) renderUndo(saved.paths, saved.message);
  } catch { localStorage.removeItem(UNDO_KEY); }
}

function renderUndo(paths, message) {
  const box = document.getElementById("undo");
  box.hidden = false;
  // DOM's replaceChildren writes a null as the text "null": leave the absent parts out.
  box.replaceChildren(...[
    el("p", { "data-testid": "undo-message" }, message),
    paths.length ? el("details", {}, el("summary", {}, `The ${plural(paths.length, "file")} moved`),
      el("ul", { "data-testid": "undo-list" }, ...paths.map((p) => el("li", {}, p)))) : null,
    paths.length ? el("button", { type: "button", "data-testid": "undo-button", onclick: async (e) => {
      e.target.disabled = true;
      try {
        const done = await api("/api/files/restore", { method: "POST", body: { paths } });
        localStorage.removeItem(UNDO_KEY);
        renderUndo([], `Put back ${plural(done.restored.length, "file")}` + (done.failed.length
          ? `; ${done.failed.length} not: ${done.failed[0].error}` : "") + ".");
      } catch (err) {
        e.target.disabled = false;
        report(err);
      }
    } }, "Undo: put them back") : null,
    el("button", { type: "button", class: "quiet", onclick: () => {
      box.hidden = true;
      localStorage.removeItem(UNDO_KEY);
    } }, "Dismiss")].filter(Boolean));
}

export class CullView {
  constructor(page) { this.page = page; }

  async show() {
    const box = document.getElementById("duplicates");
    box.replaceChildren(el("p", { role: "status" }, "Gathering stacks and near-duplicates…"));
    const queue = await reviewQueue();
    this.queue = queue;
    const summary = document.getElementById("results-summary");
    summary.textContent = queue.total
      ? `${plural(queue.total, "group")} of bursts and near-duplicates · ${queue.unreviewed} not looked at yet · ${plural(queue.rejects, "reject")}`
      : "Nothing to cull: no bursts or near-duplicates found (yet).";
    if (queue.notice) {  // the groups rest on the model's vectors: said where they are shown
      summary.append(" · ", el("span", { class: "warning", "data-testid": "notice" },
        queue.notice));
    }
    document.getElementById("pager").replaceChildren();
    const firstUnreviewed = queue.groups.findIndex((g) => !g.reviewed);
    box.replaceChildren(
      el("div", { class: "panel actions-row" },
        el("button", { type: "button", "data-testid": "cull-start", disabled: !queue.total,
          onclick: () => this.page.compare.open(queue.groups, Math.max(0, firstUnreviewed)) },
        firstUnreviewed >= 0 ? `Review ${plural(queue.unreviewed, "group")} not looked at`
          : "Review the groups again"),
        el("button", { type: "button", class: "danger", "data-testid": "cull-trash-rejects",
          disabled: !queue.rejects, onclick: () => this.trashPlan("rejects") },
        `Trash every reject…`),
        el("button", { type: "button", class: "danger", "data-testid": "cull-trash-non-keepers",
          onclick: () => this.trashPlan("non-keepers") },
        "Trash what is not kept in the groups looked at…")),
      ...queue.groups.map((group, n) => el("div", { class: "panel", "data-testid": "cull-group" },
        el("p", {}, `${group.reviewed ? "Looked at" : "Not looked at yet"} · ${group.members.length} photos (${group.kind}) · ${group.reason}`),
        el("div", { class: "group" }, ...group.members.map((id) => el("img", {
          src: thumb(id), alt: "", class: group.keep.includes(id) ? "keeper small" : "small",
        }))),
        el("button", { type: "button", "data-testid": "cull-open",
          onclick: () => this.page.compare.open(queue.groups, n) }, "Compare"))));
  }

  async trashPlan(what) {
    try {
      const plan = await api(`/api/cull/plan?what=${what}`);
      if (!plan.count) {
        toast(what === "rejects" ? "No rejects to trash: mark some with X in the compare view."
          : "Nothing to trash: look at some groups first (a group counts once it was shown).", "info");
        return;
      }
      const label = what === "rejects" ? "every reject" : "what is not kept";
      const held = plan.held_back && plan.held_back.length
        ? `\n\n${plural(plan.held_back.length, "photo")} ${plan.held_back.length === 1 ? "stays" : "stay"}: ${plan.held_back_reason}.` : "";
      const warning = plan.notice ? `\n\nNote: ${plan.notice}.` : "";
      if (!confirm(`Move ${plural(plan.count, "file")} of ${plural(plan.images, "photo")} ` +
        `(${formatBytes(plan.bytes)}), ${label}, to the system trash? You can undo this.` +
        held + warning)) return;
      await trashWithUndo(plan.files, label, plan.generation);
      this.page.load();
    } catch (err) {
      report(err);
    }
  }
}
