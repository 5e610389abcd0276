// The Train page: start a run, follow it (it survives a reload), chart it against the baseline.
import { api, el } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function chart(epochs, baseline) {
  const W = 720, H = 300, L = 46, R = 12, T = 16, B = 34;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "training and validation error per epoch" });
  if (!epochs.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" },
      "Train to see how well the model learns your taste."));
    return root;
  }
  const values = epochs.flatMap((e) => [e.train_mae, e.val_mae]).filter((v) => v != null);
  if (baseline != null) values.push(baseline);
  const top = Math.max(...values) * 1.1 || 1;
  const last = epochs[epochs.length - 1].epoch;
  const x = (e) => L + ((W - L - R) * (e - 1)) / Math.max(1, last - 1);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "currentColor",
      "stroke-opacity": 0.1 }));
    root.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(1)));
  }
  root.append(svg("text", { x: W / 2, y: H - 6, "text-anchor": "middle" },
    "epoch · mean absolute error in rating points (lower is better)"));
  for (const [key, cls, label] of [["train_mae", "train", "training"], ["val_mae", "val", "validation"]]) {
    const points = epochs.filter((e) => e[key] != null).map((e) => `${x(e.epoch)},${y(e[key])}`);
    root.append(svg("polyline", { points: points.join(" "), class: cls, fill: "none",
      "stroke-width": 2.5, "data-series": cls }));
    const lastPoint = epochs.filter((e) => e[key] != null).pop();
    if (lastPoint) root.append(svg("text", { x: x(lastPoint.epoch) - 4, y: y(lastPoint[key]) - 6,
      "text-anchor": "end" }, label));
  }
  if (baseline != null) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(baseline), y2: y(baseline),
      class: "baseline", "stroke-width": 2, "data-series": "baseline" }));
    root.append(svg("text", { x: L + 6, y: y(baseline) - 6 }, "baseline: always your mean rating"));
  }
  return root;
}

export class TrainPage {
  constructor() {
    this.wired = false;
    this.last = null;
  }

  enter() {
    if (!this.wired) {
      this.wired = true;
      document.getElementById("train-button").addEventListener("click", () => this.start());
    }
    api("/api/train").then((s) => this.render(s));
  }

  async start() {
    document.getElementById("train-button").disabled = true;
    try {
      this.render(await api("/api/train", { method: "POST" }));
    } catch (err) {
      document.getElementById("train-phase").textContent = err.message;
    }
  }

  onStatus(status) {
    if (status.training) this.render(status.training);
  }

  render(s) {
    const running = s.state === "running";
    document.getElementById("train-button").disabled = running;
    document.getElementById("train-progress").style.width = `${Math.round((s.progress || 0) * 100)}%`;
    document.getElementById("train-phase").textContent = running
      ? `Training… ${s.phase || ""}` : {
        idle: "Rate some images, then train.", done: `Trained ${s.model_version || ""}.`,
        failed: `Training failed: ${s.error || ""}`, cancelled: "Training was cancelled.",
      }[s.state] || s.state;
    const key = JSON.stringify([s.state, (s.epochs || []).length]);
    if (key === this.last) return;
    this.last = key;
    document.getElementById("train-chart").replaceChildren(chart(s.epochs || [], s.curve_baseline_mae));
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
