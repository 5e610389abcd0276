// The Train page: start a run, follow it (it survives a reload), chart it against the baseline.
import { api, el } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Ticks at round steps (1, 2 or 5 times a power of ten), about `count` of them, from 0 up
// to the first step at or above `top`: the axis always reaches past the highest point.
export function ticks(top, count) {
  const raw = top / count;
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const steps = Math.max(1, Math.ceil(top / step - 1e-9));
  return Array.from({ length: steps + 1 }, (_, i) => Number((i * step).toFixed(6)));
}

// The chosen evaluator's error on ratings it did not see, by how many it learned from,
// against always guessing the mean: the last points are the figures the sentence quotes.
export function chart(curve, chosen) {
  const W = 720, H = 320, L = 56, R = 180, T = 16, B = 52;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "held-out error of your evaluator and of the baseline, by number of ratings" });
  if (!curve.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" },
      "Train to see how well the evaluator predicts your ratings."));
    return root;
  }
  const values = curve.flatMap((p) => [p.train_mae, p.val_mae, p.baseline_mae])
    .filter((v) => Number.isFinite(v));
  const yTicks = ticks(Math.max(0, ...values) * 1.05 || 1, 5);
  const top = yTicks[yTicks.length - 1];
  const first = curve[0].n, last = curve[curve.length - 1].n;
  const x = (n) => L + ((W - L - R) * (n - first)) / Math.max(1, last - first);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (const v of yTicks) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "currentColor",
      "stroke-opacity": 0.12 }));
    root.append(svg("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  for (const p of curve) {
    root.append(svg("line", { x1: x(p.n), x2: x(p.n), y1: H - B, y2: H - B + 5,
      stroke: "currentColor" }));
    root.append(svg("text", { x: x(p.n), y: H - B + 18, "text-anchor": "middle" }, String(p.n)));
  }
  root.append(svg("text", { x: (L + W - R) / 2, y: H - 10, "text-anchor": "middle" },
    "ratings it learned from (per cross-validation fold)"));
  root.append(svg("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle",
    transform: `rotate(-90 14 ${(T + H - B) / 2})` }, "mean error, rating points"));
  const series = [["val_mae", "val", [chosen, "on unseen ratings"]],
    ["baseline_mae", "baseline", ["baseline: always", "your mean rating"]],
    ["train_mae", "train", [chosen, "on its own ratings"]]];
  series.forEach(([key, cls, label], i) => {
    root.append(svg("polyline", { points: curve.map((p) => `${x(p.n)},${y(p[key])}`).join(" "),
      class: cls, fill: "none", "stroke-width": 2.5, "data-series": cls }));
    for (const p of curve) root.append(svg("circle", { cx: x(p.n), cy: y(p[key]), r: 3, class: cls }));
    const ly = T + 14 + i * 40;  // the legend sits beside the plot, never on a curve
    root.append(svg("line", { x1: W - R + 12, x2: W - R + 36, y1: ly, y2: ly, class: cls,
      "stroke-width": 2.5 }));
    label.forEach((line, j) => root.append(svg("text", { x: W - R + 42, y: ly + 4 + j * 14 },
      line)));
  });
  return root;
}

export class TrainPage {
  constructor() {
    this.wired = false;
    this.last = null;
    this.refused = null;  // why the last click's training was refused, until the next click
  }

  enter() {
    if (!this.wired) {
      this.wired = true;
      document.getElementById("train-button").addEventListener("click", () => this.start());
    }
    api("/api/train").then((s) => this.render(s)).catch((err) => {
      document.getElementById("train-phase").textContent = err.message;
    });
  }

  async start() {
    document.getElementById("train-button").disabled = true;
    try {
      this.refused = null;
      this.render(await api("/api/train", { method: "POST" }));
    } catch (err) {
      // kept until the next try: the page's first read or a status tick that lands after
      // this answer must not put "Rate some images" back over why training was refused
      this.refused = err.message;
      document.getElementById("train-phase").textContent = err.message;
      document.getElementById("train-button").disabled = false;
    }
  }

  onStatus(status) {
    if (status.training) this.render(status.training);
  }

  render(s) {
    const running = s.state === "running";
    document.getElementById("train-button").disabled = running;
    const progress = s.state === "done" ? 1 : (s.progress || 0);
    document.getElementById("train-progress").style.width = `${Math.round(progress * 100)}%`;
    const when = s.finished_at ? new Date(s.finished_at * 1000).toLocaleString() : "";
    document.getElementById("train-phase").textContent = running
      ? `Training… ${s.phase || ""}` : (s.state === "idle" && this.refused) || {
        idle: s.verdict || "Rate some images (10 or more), then train.",
        done: `Trained on ${s.n_ratings ?? "your"} ratings${when ? ` on ${when}` : ""}; every image now has a predicted rating.`,
        failed: `Training failed: ${s.error || ""}`, cancelled: "Training was cancelled.",
      }[s.state] || s.state;
    const key = JSON.stringify([s.state, (s.curve || []).length]);
    if (key === this.last) return;
    this.last = key;
    document.getElementById("train-chart").replaceChildren(chart(s.curve || [], s.chosen || "evaluator"));
    const reading = document.getElementById("train-reading");
    if (s.final && s.baseline) {
      reading.textContent = `Your evaluator (${s.chosen}) is off by ${s.final.mae.toFixed(2)} rating points on average on ratings it did not see, against ${s.baseline.mae.toFixed(2)} for always guessing your mean rating; its ranking agrees with yours at a Spearman of ${s.final.spearman.toFixed(2)}. In short: it ${s.verdict}.`;
    } else {
      reading.textContent = s.verdict || "";
    }
    const table = document.getElementById("train-scores");
    table.replaceChildren(...(s.scores || []).map((row) => el("tr", {},
      el("td", {}, row.model + (row.model === s.chosen ? " ← chosen" : "")),
      el("td", {}, `MAE ${row.mae.toFixed(2)}`),
      el("td", {}, `Spearman ${row.spearman.toFixed(2)}`))));
  }
}
