// The dashboard: models and their holdout scores, the forecast chart (SVG drawn by the server at
// /models/{name}/plot.svg), and training as a background job with live progress (Server-Sent
// Events read through fetch, so an API key can be sent). No libraries, nothing from elsewhere.
"use strict";

const $ = (selector) => document.querySelector(selector);
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { models: [], csv: null, job: null };

// ----- HTTP ---------------------------------------------------------------------------------

function headers(extra = {}) {
  const key = sessionStorage.getItem("forecast-api-key");
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options = {}) {
  const init = { ...options, headers: headers(options.headers) };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      code = body.error || code;
      message = body.message || message;
    } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, code, message);
  }
  return response;
}

// ----- formatting ---------------------------------------------------------------------------

function fmt(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function setStatus(element, text, kind = "") {
  element.textContent = text;
  element.className = kind;
}

// ----- models -------------------------------------------------------------------------------

async function loadModels(select) {
  const body = await (await api("/models")).json();
  state.models = body.models;
  const tbody = $("#models-table tbody");
  tbody.replaceChildren();
  const chooser = $("#model-select");
  const previous = select || chooser.value;
  chooser.replaceChildren();
  for (const model of state.models) {
    const m = model.metrics;
    const row = document.createElement("tr");
    row.dataset.model = model.model;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = model.model;
    row.appendChild(th);
    cell(row, `v${model.version}`, "num");
    cell(row, `${model.config.cell} / ${model.config.window_size}`);
    const beats = m.test_mse !== null && m.naive_mse !== null && m.test_mse < m.naive_mse;
    cell(row, fmt(m.test_mse), beats ? "num better" : "num");
    cell(row, fmt(m.naive_mse), "num");
    cell(row, fmt(m.seasonal_naive_mse), "num");
    cell(row, fmt(m.mase, 3), "num");
    cell(row, model.created_at.replace("T", " ").slice(0, 19));
    const actions = cell(row, "");
    const show = document.createElement("button");
    show.type = "button";
    show.className = "secondary";
    show.textContent = "Show";
    show.setAttribute("aria-label", `Show the forecast of ${model.model}`);
    show.addEventListener("click", () => {
      chooser.value = model.model;
      drawChart();
    });
    actions.appendChild(show);
    tbody.appendChild(row);
    const option = document.createElement("option");
    option.value = model.model;
    option.textContent = `${model.model} (v${model.version})`;
    chooser.appendChild(option);
  }
  if (previous && state.models.some((m) => m.model === previous)) chooser.value = previous;
}

// ----- forecast chart -----------------------------------------------------------------------

async function drawChart() {
  const name = $("#model-select").value;
  const horizon = Number($("#horizon").value);
  const status = $("#chart-status");
  if (!name) return;
  if (!Number.isInteger(horizon) || horizon < 1) {
    setStatus(status, "The horizon must be a whole number of steps, at least 1.", "error");
    return;
  }
  for (const row of document.querySelectorAll("#models-table tbody tr")) {
    row.classList.toggle("selected", row.dataset.model === name);
  }
  setStatus(status, `Forecasting ${horizon} steps of ${name}…`);
  const width = Math.max(320, Math.min(1200, Math.round($("#chart").clientWidth || 960)));
  const height = width < 600 ? 320 : 420;
  let query = `horizon=${horizon}&width=${width}&height=${height}`;
  // By default the end of the series: the holdout test and the forecast stay readable.
  if (!$("#whole-series").checked) query += `&history=${Math.max(160, 3 * horizon)}`;
  try {
    const [svgResponse, dataResponse] = await Promise.all([
      api(`/models/${encodeURIComponent(name)}/plot.svg?${query}`),
      api(`/models/${encodeURIComponent(name)}/series?horizon=${horizon}`),
    ]);
    // The server's SVG holds no scripts or styles (and the page's CSP forbids both anyway).
    $("#chart").innerHTML = await svgResponse.text();
    const data = await dataResponse.json();
    fillForecastTable(data);
    const bands = data.bands.length ? ` with ${data.bands.map((b) => `${b.level}%`).join(" and ")} bands` : "";
    setStatus(status, `${name} v${data.version}: ${data.forecast.length} steps forecast${bands}.`, "ok");
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

function fillForecastTable(data) {
  const head = $("#forecast-table thead");
  const body = $("#forecast-table tbody");
  const columns = ["Step", "Forecast"];
  for (const band of data.bands) columns.push(`${band.level}% low`, `${band.level}% high`);
  const headRow = document.createElement("tr");
  for (const name of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.className = "num";
    th.textContent = name;
    headRow.appendChild(th);
  }
  head.replaceChildren(headRow);
  body.replaceChildren();
  data.forecast.forEach((value, i) => {
    const row = document.createElement("tr");
    cell(row, String(i + 1), "num");
    cell(row, fmt(value, 6), "num");
    for (const band of data.bands) {
      cell(row, fmt(band.lower[i], 6), "num");
      cell(row, fmt(band.upper[i], 6), "num");
    }
    body.appendChild(row);
  });
}

// ----- training input -----------------------------------------------------------------------

function parseNumbers(text) {
  const items = text.split(/[\s,;]+/).filter((item) => item !== "");
  return items.map((item, i) => {
    const value = Number(item);
    if (!Number.isFinite(value)) throw new Error(`value ${i + 1} is not a number: "${item}"`);
    return value;
  });
}

function parseCsv(text) {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (!lines.length) throw new Error("the CSV file is empty");
  const delimiter = [",", ";", "\t"].find((d) => lines[0].includes(d)) || ",";
  const rows = lines.map((line) => line.split(delimiter).map((c) => c.trim().replace(/^"|"$/g, "")));
  const width = Math.max(...rows.map((r) => r.length));
  const isNumber = (c) => c !== "" && Number.isFinite(Number(c));
  const header = !rows[0].some(isNumber) && rows.length > 1;
  const data = header ? rows.slice(1) : rows;
  const columns = [];
  for (let c = 0; c < width; c++) {
    const numeric = data.filter((r) => isNumber(r[c] ?? "")).length;
    if (numeric >= Math.max(1, data.length * 0.9)) {
      columns.push({ index: c, name: header ? rows[0][c] || `column ${c + 1}` : `column ${c + 1}` });
    }
  }
  if (!columns.length) throw new Error("the CSV file has no column of numbers");
  return { rows: data, columns };
}

function csvValues(csv, index) {
  const values = [];
  csv.rows.forEach((row, i) => {
    const value = Number(row[index]);
    if (!Number.isFinite(value)) throw new Error(`row ${i + 1}: "${row[index] ?? ""}" is not a number`);
    values.push(value);
  });
  return values;
}

async function onFile(event) {
  const file = event.target.files[0];
  const select = $("#train-column");
  select.replaceChildren();
  state.csv = null;
  select.disabled = true;
  if (!file) return;
  try {
    state.csv = parseCsv(await file.text());
    for (const column of state.csv.columns) {
      const option = document.createElement("option");
      option.value = String(column.index);
      option.textContent = column.name;
      select.appendChild(option);
    }
    // Usually "timestamp,value": the last numeric column is the series.
    select.value = String(state.csv.columns[state.csv.columns.length - 1].index);
    select.disabled = false;
    $("#train-panel").hidden = false;
    setStatus($("#train-status"), `${file.name}: ${state.csv.rows.length} rows.`);
  } catch (error) {
    $("#train-panel").hidden = false;
    setStatus($("#train-status"), error.message, "error");
  }
}

function trainingBody() {
  const text = $("#train-values").value.trim();
  let series;
  if (text) series = parseNumbers(text);
  else if (state.csv) series = csvValues(state.csv, Number($("#train-column").value));
  else throw new Error("paste some values or choose a CSV file first");
  const body = {
    model: $("#train-name").value.trim(),
    series,
    window_size: Number($("#train-window").value),
    test_size: Number($("#train-test").value),
    hidden_size: Number($("#train-hidden").value),
    wait: false,
  };
  const epochs = $("#train-epochs").value;
  if (epochs !== "") body.epochs = Number(epochs);
  if ($("#train-always").checked) body.promote = "always";
  return body;
}

// ----- training job -------------------------------------------------------------------------

async function onTrain(event) {
  event.preventDefault();
  const status = $("#train-status");
  $("#train-panel").hidden = false;
  let body;
  try {
    body = trainingBody();
  } catch (error) {
    setStatus(status, error.message, "error");
    return;
  }
  $("#train-submit").disabled = true;
  const losses = [];
  drawLoss(losses);
  $("#train-progress").value = 0;
  try {
    const job = await (await api("/train", { json: body })).json();
    state.job = job.id;
    $("#train-cancel").hidden = false;
    setStatus(status, `Job ${job.id.slice(0, 8)} ${job.status}: training ${body.model} on ${body.series.length} values…`);
    const final = await followJob(job.id, (progress) => {
      losses.push(progress);
      showProgress(progress);
      drawLoss(losses);
    });
    await finishJob(final, body.model);
  } catch (error) {
    setStatus(status, error.message, "error");
  } finally {
    state.job = null;
    $("#train-submit").disabled = false;
    $("#train-cancel").hidden = true;
  }
}

function showProgress(p) {
  if (p.fraction !== null) $("#train-progress").value = p.fraction;
  if (p.epoch === null) return;
  const parts = [`${p.phase === "refit" ? "Refit" : "Epoch"} ${p.epoch}/${p.epochs_planned}`];
  parts.push(`loss ${fmt(p.train_loss)}`);
  if (p.validation_loss !== null) parts.push(`validation ${fmt(p.validation_loss)}`);
  parts.push(`${fmt(p.elapsed_seconds, 2)} s`);
  if (p.eta_seconds !== null) parts.push(`about ${fmt(p.eta_seconds, 2)} s left`);
  setStatus($("#train-status"), parts.join(" · "));
}

async function finishJob(job, name) {
  const status = $("#train-status");
  if (job.status === "succeeded") {
    $("#train-progress").value = 1;
    const m = job.result.metrics;
    const scores = `holdout MSE ${fmt(m.test_mse)} (naive ${fmt(m.naive_mse)})`;
    const promotion = job.result.promotion;
    await loadModels(name);
    if (promotion && !promotion.promoted) {
      setStatus(status, `Done: ${name} v${job.result.version} was trained, ${scores}, but kept as a candidate: ${promotion.reason}`, "error");
      if (state.models.some((model) => model.model === name)) await drawChart();
      return;
    }
    setStatus(status, `Done: ${name} v${job.result.version} succeeded, ${scores}.`, "ok");
    await drawChart();
  } else {
    const why = job.error ? job.error.message : "";
    setStatus(status, `Job ${job.status}: ${why}`, "error");
  }
}

// Reads the job's Server-Sent Events; falls back to polling if the stream breaks.
async function followJob(id, onProgress) {
  try {
    const response = await api(`/jobs/${id}/events`, { headers: { Accept: "text/event-stream" } });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = blocks.pop();
      for (const block of blocks) {
        const message = parseEvent(block);
        if (!message.data) continue;
        const data = JSON.parse(message.data);
        if (message.event === "progress") onProgress(data);
        else if (message.event === "status" && ["succeeded", "failed", "cancelled"].includes(data.status)) {
          return data;
        }
      }
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
  }
  for (;;) {
    const job = await (await api(`/jobs/${id}`)).json();
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    if (job.progress) onProgress(job.progress);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function parseEvent(block) {
  const message = { event: "message", data: "" };
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") message.event = value;
    else if (field === "data") message.data += (message.data ? "\n" : "") + value;
  }
  return message;
}

async function onCancel() {
  if (!state.job) return;
  try {
    await api(`/jobs/${state.job}`, { method: "DELETE" });
    setStatus($("#train-status"), "Cancelling at the next batch…");
  } catch (error) {
    setStatus($("#train-status"), error.message, "error");
  }
}

// ----- loss curve ---------------------------------------------------------------------------

function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function drawLoss(points) {
  const figure = $("#loss-chart");
  const width = 480, height = 220, left = 56, right = 12, top = 24, bottom = 30;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "loss-title", "font-size": 11, "font-family": "system-ui, sans-serif" });
  root.appendChild(svg("title", { id: "loss-title" }, `Loss per epoch: ${points.length} epochs so far`));
  root.appendChild(svg("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom, fill: "#fff", stroke: "#9ca3af" }));
  const series = [
    { key: "train_loss", colour: "#1f4e9c", label: "training loss", dash: "" },
    { key: "validation_loss", colour: "#c2410c", label: "validation loss", dash: "5 3" },
  ];
  const values = points.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v > 0);
  let x = left;
  for (const s of series) {
    root.appendChild(svg("line", { x1: x, x2: x + 18, y1: 12, y2: 12, stroke: s.colour, "stroke-width": 2, "stroke-dasharray": s.dash }));
    root.appendChild(svg("text", { x: x + 22, y: 16, fill: "#111827" }, s.label));
    x += 130;
  }
  if (values.length) {
    // Losses fall over orders of magnitude: a log scale shows the whole descent.
    let low = Math.log10(Math.min(...values)), high = Math.log10(Math.max(...values));
    if (high - low < 1e-9) { low -= 0.5; high += 0.5; }
    const px = (i) => left + (points.length > 1 ? i / (points.length - 1) : 0.5) * (width - left - right);
    const py = (v) => top + (high - Math.log10(v)) / (high - low) * (height - top - bottom);
    for (const s of series) {
      const coordinates = points
        .map((p, i) => (p[s.key] !== null && p[s.key] > 0 ? `${px(i).toFixed(1)},${py(p[s.key]).toFixed(1)}` : null))
        .filter((c) => c !== null);
      if (coordinates.length) {
        root.appendChild(svg("polyline", { points: coordinates.join(" "), fill: "none", stroke: s.colour, "stroke-width": 2, "stroke-dasharray": s.dash, "data-role": s.key }));
      }
    }
    root.appendChild(svg("text", { x: left - 4, y: top + 10, "text-anchor": "end", fill: "#374151" }, fmt(10 ** high, 2)));
    root.appendChild(svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end", fill: "#374151" }, fmt(10 ** low, 2)));
  }
  root.appendChild(svg("text", { x: (left + width - right) / 2, y: height - 8, "text-anchor": "middle", fill: "#374151" }, "epoch"));
  figure.replaceChildren(root);
}

// ----- start --------------------------------------------------------------------------------

async function start() {
  const key = $("#api-key");
  key.value = sessionStorage.getItem("forecast-api-key") || "";
  key.addEventListener("change", () => {
    sessionStorage.setItem("forecast-api-key", key.value);
    refresh();
  });
  $("#chart-form").addEventListener("submit", (event) => {
    event.preventDefault();
    drawChart();
  });
  $("#model-select").addEventListener("change", drawChart);
  $("#whole-series").addEventListener("change", drawChart);
  $("#train-form").addEventListener("submit", onTrain);
  $("#train-file").addEventListener("change", onFile);
  $("#train-cancel").addEventListener("click", onCancel);
  await refresh();
}

async function refresh() {
  const status = $("#server-status");
  try {
    await loadModels();
    const ready = (await fetch("/readyz")).ok;
    setStatus(status, ready ? `${state.models.length} models` : "Starting: the default model is still training…");
    if (state.models.length) await drawChart();
    if (!ready) setTimeout(refresh, 2000); // look again until the default model serves
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

document.addEventListener("DOMContentLoaded", start);
