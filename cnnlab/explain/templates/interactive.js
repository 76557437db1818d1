// The interactive explainer's script (cnnlab/explain/explainer.py writes the data it reads).
// Display logic only: every number comes from the exported data. The one piece of arithmetic
// is a convolution cell's products and their sum, made from the exported float32 input window
// and kernel in double precision, as cnnlab's trace_conv makes them (the browser test checks
// both against trace_conv); the value after the activation is the layer's own output.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("data").textContent);
  const S = { img: 0, lang: "ko", layer: null, ch: 0, cell: null, depth: 0, cls: null };
  const $ = (id) => document.getElementById(id);
  const decoded = new Map();

  // ------------------------------------------------------------------ data
  function tensor(a) {
    if (decoded.has(a)) return decoded.get(a);
    const key = a.f32 !== undefined ? "f32" : "u8";
    const bin = atob(a[key]);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    let data = bytes;
    if (key === "f32") {  // little-endian float32, as written
      const view = new DataView(bytes.buffer);
      data = new Float32Array(bytes.length / 4);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
    }
    const strides = [];
    let step = 1;
    for (let i = a.shape.length - 1; i >= 0; i--) { strides[i] = step; step *= a.shape[i]; }
    const t = { shape: a.shape, data: data, strides: strides };
    decoded.set(a, t);
    return t;
  }
  const at = (t, idx) => t.data[idx.reduce((s, v, i) => s + v * t.strides[i], 0)];
  const image = () => D.images[S.img];
  const layerOf = (i) => D.layers[i];
  function output(i) {
    const a = image().outputs[String(i)];
    return a ? tensor(a) : null;
  }
  const source = (L) => (L.from[0] >= 0 ? output(L.from[0]) : tensor(image().x));

  // ------------------------------------------------------------------ words and numbers
  const t = (key) => D.texts[key][S.lang === "ko" ? 0 : 1];
  const tf = (key, values) => t(key).replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
  // As cnnlab's trace.fmt: -1 rather than -1.0, otherwise 4 significant digits (Python's "{:.4g}").
  function fmt(value) {
    const v = Number(value);
    if (v === 0) return "0";
    if (!isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
    const [mant, e] = v.toExponential(3).split("e");
    const exp = Number(e);
    if (exp < -4 || exp >= 4) {
      const m = mant.replace(/\.?0+$/, "");
      return m + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
    }
    return v.toFixed(Math.max(3 - exp, 0)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }
  const tuple = (a) => "(" + a.join(", ") + ")";
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k === "cls") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  // ------------------------------------------------------------------ pictures
  // A 2-D plane of a tensor (*spatial, C) at channel c: 1-D is one row, 3-D the slice at depth d.
  function plane(tn, c, d) {
    const sp = tn.shape.slice(0, -1);
    if (sp.length === 1) return { h: 1, w: sp[0], get: (i, j) => at(tn, [j, c]) };
    if (sp.length === 2) return { h: sp[0], w: sp[1], get: (i, j) => at(tn, [i, j, c]) };
    const dd = Math.min(d, sp[0] - 1);
    return { h: sp[1], w: sp[2], get: (i, j) => at(tn, [dd, i, j, c]) };
  }
  function range(tn, c) {
    let lo = Infinity, hi = -Infinity;
    const C = tn.shape[tn.shape.length - 1];
    for (let i = c; i < tn.data.length; i += C) { lo = Math.min(lo, tn.data[i]); hi = Math.max(hi, tn.data[i]); }
    return [lo, hi];
  }
  const grey = (v, lo, hi) => (hi > lo ? Math.round((255 * (v - lo)) / (hi - lo)) : 0);
  function drawPlane(canvas, p, lo, hi) {
    canvas.width = p.w; canvas.height = p.h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const img = ctx.createImageData(p.w, p.h);
    for (let i = 0; i < p.h; i++) for (let j = 0; j < p.w; j++) {
      const g = grey(p.get(i, j), lo, hi), o = 4 * (i * p.w + j);
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g; img.data[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }
  // The model's input as a picture: colour for 3 channels, else the first channel.
  function drawInput(canvas, x, d) {
    const C = x.shape[x.shape.length - 1];
    if (C !== 3 || x.shape.length !== 3) {
      const [lo, hi] = range(x, 0);
      return drawPlane(canvas, plane(x, 0, d), lo, hi);
    }
    const [h, w] = x.shape;
    let lo = Infinity, hi = -Infinity;
    for (const v of x.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true }), img = ctx.createImageData(w, h);
    for (let i = 0; i < h * w; i++) {
      for (let c = 0; c < 3; c++) img.data[4 * i + c] = grey(x.data[3 * i + c], lo, hi);
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }
  const rank = () => D.rank;
  const middle = (x) => (rank() === 3 ? Math.floor(x.shape[0] / 2) : 0);

  // ------------------------------------------------------------------ sections
  function renderTexts() {
    document.documentElement.lang = S.lang;
    for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
    $("intro").textContent = tf("intro", { model: D.model });
    document.title = t("title") + " · " + D.model;
  }

  function renderImages() {
    const box = $("images");
    box.replaceChildren();
    D.images.forEach((im, n) => {
      const c = el("canvas");
      const x = tensor(im.x);
      drawInput(c, x, middle(x));
      const b = el("button", { type: "button", role: "radio", "aria-checked": String(n === S.img),
        "aria-label": "image " + n, "data-image": String(n) }, [c]);
      b.addEventListener("click", () => { S.img = n; S.cls = null; renderAll(); });
      box.append(b);
    });
    const im = image(), name = D.classes[im.predicted];
    const parts = [t("s_prediction") + ": " + name + " (" + (100 * im.probs[im.predicted]).toFixed(1) + "%)"];
    if (im.label !== null) parts.push(t("label") + ": " + D.classes[im.label]);
    if (im.source) parts.push(im.source);
    $("image-note").textContent = parts.join(" · ");
  }

  function renderNetwork() {
    const list = $("network");
    list.replaceChildren();
    list.append(el("li", {}, [el("button", { type: "button", disabled: "" },
      [el("b", { text: "input" }), el("code", { text: D.input.shape })])]));
    for (const L of D.layers) {
      if (L.cls === "InputLayer") continue;
      const inspectable = ["conv", "pool", "maps"].includes(L.view);
      const lines = [el("b", { text: L.name }), el("span", { text: L.cls }), el("br"), el("code", { text: L.out })];
      if (L.formula) lines.push(el("br"), el("code", { text: L.formula }));
      else if (L.params) lines.push(el("br"), el("span", { text: t("params") + " " + L.params.toLocaleString("en") }));
      const named = L.from.filter((j) => j >= 0).map((j) => layerOf(j).name);
      if (L.from.length > 1 || (named.length && named[0] !== prevShown(L))) {
        lines.push(el("br"), el("small", { text: t("from") + ": " + L.from.map((j) => (j >= 0 ? layerOf(j).name : "input")).join(", ") }));
      }
      const b = el("button", { type: "button", "data-layer": L.name, cls: inspectable ? "maps" : "" }, lines);
      if (inspectable) {
        b.setAttribute("aria-pressed", String(S.layer === L.index));
        b.addEventListener("click", () => { S.layer = L.index; S.ch = 0; S.cell = null; S.depth = 0; renderMaps(); renderNetwork(); });
      } else b.disabled = true;
      b.title = L.note[S.lang === "ko" ? 0 : 1] || "";
      list.append(el("li", {}, [b]));
    }
  }
  function prevShown(L) {
    const k = D.layers.indexOf(L);
    for (let i = k - 1; i >= 0; i--) if (D.layers[i].cls !== "InputLayer") return D.layers[i].name;
    return null;
  }

  // Every channel of every convolution and pooling layer, a block of small maps per layer; the chosen
  // map opens below as a grid of cells.
  function renderMaps() {
    const section = $("maps-section");
    if (S.layer === null) { section.hidden = true; return; }
    const y = output(S.layer);
    const depthBox = $("depth-box");
    depthBox.hidden = y.shape.length !== 4;
    if (y.shape.length === 4) {
      $("depth").max = String(y.shape[0] - 1);
      S.depth = Math.min(S.depth, y.shape[0] - 1);
      $("depth").value = String(S.depth);
      $("depth-value").textContent = S.depth + " / " + (y.shape[0] - 1);
    }
    const box = $("maps");
    box.replaceChildren();
    for (const L of D.layers) {
      if (!["conv", "pool", "maps"].includes(L.view)) continue;
      const out = output(L.index), C = out.shape[out.shape.length - 1];
      const row = el("div", { cls: "row" });
      for (let c = 0; c < C; c++) {
        const canvas = el("canvas");
        const [lo, hi] = range(out, c);
        drawPlane(canvas, plane(out, c, S.depth), lo, hi);
        const b = el("button", { type: "button", "data-channel": String(c),
          "aria-pressed": String(L.index === S.layer && c === S.ch),
          "aria-label": tf("channel_of", { layer: L.name, channel: c }) }, [canvas]);
        b.addEventListener("click", () => {
          if (L.index !== S.layer) { S.layer = L.index; S.cell = null; }
          S.ch = c;
          renderMaps(); renderNetwork();
        });
        row.append(b);
      }
      const block = el("div", { cls: "block" + (out.shape.length === 2 ? " strips" : ""), "data-layer": L.name },
        [el("h4", { text: L.name + " · " + L.out }), row]);
      box.append(block);
    }
    renderGrid();
  }

  function renderGrid() {
    const L = layerOf(S.layer), y = output(S.layer);
    const p = plane(y, S.ch, S.depth), [lo, hi] = range(y, S.ch);
    $("grid-title").textContent = tf("channel_of", { layer: L.name, channel: S.ch }) + " · " + L.out;
    const grid = $("grid");
    grid.replaceChildren();
    grid.className = "grid" + (p.h === 1 ? " strip" : "");
    grid.style.gridTemplateColumns = "repeat(" + p.w + ", auto)";
    grid.dataset.layer = L.name;
    grid.dataset.channel = String(S.ch);
    const pos = (i, j) => (y.shape.length === 2 ? [j] : y.shape.length === 3 ? [i, j] : [S.depth, i, j]);
    const current = S.cell && S.cell.length === y.shape.length - 1 ? S.cell : null;
    for (let i = 0; i < p.h; i++) {
      const row = el("div", { role: "row", style: "display:contents" });
      for (let j = 0; j < p.w; j++) {
        const v = p.get(i, j), g = grey(v, lo, hi), here = pos(i, j);
        const chosen = current && here.join(",") === current.join(",");
        const b = el("button", { type: "button", role: "gridcell", cls: "cell", "data-pos": here.join(","),
          "data-i": String(i), "data-j": String(j), tabindex: chosen || (!current && i === 0 && j === 0) ? "0" : "-1",
          "aria-selected": String(!!chosen), "aria-label": tuple(here) + " = " + fmt(v), title: tuple(here) + " = " + fmt(v) });
        b.style.background = "rgb(" + g + "," + g + "," + g + ")";
        b.addEventListener("click", () => choose(here));
        b.addEventListener("mouseenter", () => choose(here));
        b.addEventListener("focus", () => choose(here));
        b.addEventListener("keydown", (ev) => move(ev, i, j, p));
        row.append(b);
      }
      grid.append(row);
    }
    if (current) renderDetail(); else $("detail").replaceChildren();
  }
  function move(ev, i, j, p) {
    const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[ev.key];
    if (!step) return;
    ev.preventDefault();
    const ni = Math.min(Math.max(i + step[0], 0), p.h - 1), nj = Math.min(Math.max(j + step[1], 0), p.w - 1);
    const next = $("grid").querySelector('[data-i="' + ni + '"][data-j="' + nj + '"]');
    if (next) next.focus();
  }
  function choose(here) {
    if (S.cell && S.cell.join(",") === here.join(",")) return;
    S.cell = here;
    for (const b of $("grid").querySelectorAll(".cell")) {
      const on = b.dataset.pos === here.join(",");
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    renderDetail();
  }

  // Where the window of output cell `pos` lies on the input, per axis: the input coordinates.
  function windowCoords(L, pos) {
    return L.size.map((k, a) => Array.from({ length: k }, (_, o) => pos[a] * L.strides[a] - L.pads[a][0] + o * L.dilation[a]));
  }
  // Every cell of a window in row-major order: [offsets per axis, input coordinates, inside the input?].
  function windowCells(L, pos, spatial) {
    const coords = windowCoords(L, pos), cells = [];
    const walk = (a, offs) => {
      if (a === L.size.length) {
        const xs = offs.map((o, b) => coords[b][o]);
        cells.push([offs, xs, xs.every((v, b) => v >= 0 && v < spatial[b])]);
        return;
      }
      for (let o = 0; o < L.size[a]; o++) walk(a + 1, offs.concat([o]));
    };
    walk(0, []);
    return cells;
  }
  // A window's cells as 2-D tables (1-D: one row; 3-D: one table per depth slice).
  function tables(L, caption, cellHtml) {
    const k = L.size, out = [];
    const slices = k.length === 3 ? k[0] : 1, h = k.length === 1 ? 1 : k[k.length - 2], w = k[k.length - 1];
    for (let s = 0; s < slices; s++) {
      const rows = [];
      for (let i = 0; i < h; i++) {
        const tr = el("tr");
        for (let j = 0; j < w; j++) tr.append(cellHtml(s * h * w + i * w + j));
        rows.push(tr);
      }
      out.push(el("table", {}, [el("caption", { text: caption + (slices > 1 ? " [" + t("depth") + " " + s + "]" : "") })].concat(rows)));
    }
    return out;
  }
  const td = (role, idx, v, extra) => {
    const e = el("td", Object.assign({ "data-role": role, "data-idx": String(idx), "data-v": String(v) }, extra || {}));
    e.textContent = fmt(v);
    return e;
  };

  // The input with its padding and the window drawn on it (stride and padding made visible).
  function whereCanvas(L, x, pos, c) {
    const sp = x.shape.slice(0, -1), C = x.shape[x.shape.length - 1];
    const d = sp.length === 3 ? Math.max(0, Math.min(windowCoords(L, pos)[0][0], sp[0] - 1)) : 0;
    const before = L.pads.slice(-Math.min(2, L.pads.length)).map((p) => p[0]);
    const after = L.pads.slice(-Math.min(2, L.pads.length)).map((p) => p[1]);
    const h = sp.length === 1 ? 1 : sp[sp.length - 2], w = sp[sp.length - 1];
    const [pbH, pbW] = sp.length === 1 ? [0, before[0]] : before, [paH, paW] = sp.length === 1 ? [0, after[0]] : after;
    const Hh = h + pbH + paH, Ww = w + pbW + paW, z = Math.max(2, Math.floor(160 / Math.max(Hh, Ww)));
    const canvas = el("canvas", { "aria-hidden": "true" });
    canvas.width = Ww * z; canvas.height = Hh * z;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.fillStyle = "#c8c8c8"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    const chans = c === null ? Array.from({ length: C }, (_, k) => k) : [c];
    const p = (i, j) => chans.reduce((s, k) => s + plane(x, k, d).get(i, j), 0) / chans.length;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { lo = Math.min(lo, p(i, j)); hi = Math.max(hi, p(i, j)); }
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const g = grey(p(i, j), lo, hi);
      ctx.fillStyle = "rgb(" + g + "," + g + "," + g + ")";
      ctx.fillRect((j + pbW) * z, (i + pbH) * z, z, z);
    }
    const coords = windowCoords(L, pos), last = coords.length - 1;
    const cols = coords[last], rows = coords.length === 1 ? [0] : coords[last - 1];
    ctx.strokeStyle = "#d8453b"; ctx.lineWidth = Math.max(1, z / 3);
    for (const r of rows) for (const q of cols) ctx.strokeRect((q + pbW) * z + 0.5, (r + pbH) * z + 0.5, z - 1, z - 1);
    return canvas;
  }

  function renderDetail() {
    const box = $("detail");
    box.replaceChildren();
    const L = layerOf(S.layer), pos = S.cell;
    if (L.view === "conv") convDetail(box, L, pos);
    else if (L.view === "pool") poolDetail(box, L, pos);
    else box.append(el("p", { text: t("no_trace") }));
  }

  function convDetail(box, L, pos) {
    const x = source(L), y = output(L.index), f = S.ch;
    const C = x.shape[x.shape.length - 1], K = tensor(L.kernel), F = K.shape[K.shape.length - 1];
    const cells = windowCells(L, pos, x.shape.slice(0, -1));
    const win = [], ker = [], prod = [];
    let total = 0;
    cells.forEach(([offs, xs, inside], n) => {
      for (let c = 0; c < C; c++) {
        const idx = n * C + c;
        win[idx] = inside ? at(x, xs.concat([c])) : 0;
        ker[idx] = K.data[idx * F + f];
        prod[idx] = win[idx] * ker[idx];
        total += prod[idx];
      }
    });
    const bias = tensor(L.bias).data[f], pre = total + bias, value = at(y, pos.concat([f]));
    box.dataset.layer = L.name; box.dataset.pos = pos.join(","); box.dataset.filter = String(f);
    box.append(el("h3", { text: t("s_trace") + " · " + L.name + " " + tuple(pos) + ", " + t("t_filter") + " " + f }));
    box.append(el("p", { cls: "note-line", text: tf("setup", { s: tuple(L.strides), p: L.padding, pads: tuple(L.pads.map(tuple)), d: tuple(L.dilation) }) }));
    box.append(el("div", { cls: "row" }, [whereCanvas(L, x, pos, null), el("p", { cls: "note-line", text: t("where") })]));
    const padded = cells.map((cell) => !cell[2]);
    const holder = el("div");
    for (let c = 0; c < C; c++) {
      const suffix = C > 1 ? " · " + t("t_channel") + " " + c : "";
      const row = el("div", { cls: "row", "data-channel": String(c) });
      row.append(...tables(L, t("t_window") + suffix, (n) => td("window", n * C + c, win[n * C + c], padded[n] ? { class: "pad", title: "padding" } : {})));
      row.append(...tables(L, tf("t_kernel", { f: f }) + suffix, (n) => td("kernel", n * C + c, ker[n * C + c])));
      row.append(...tables(L, t("t_products") + suffix, (n) => td("product", n * C + c, prod[n * C + c], padded[n] ? { class: "pad" } : {})));
      holder.append(row);
    }
    if (C > 3) {  // the first channels in view, the rest one click away (all in the page)
      const more = el("details", {}, [el("summary", { text: "+ " + (C - 3) + " " + t("t_channel") })]);
      while (holder.children.length > 3) more.prepend(holder.lastElementChild);
      more.prepend(more.querySelector("summary"));
      holder.append(more);
    }
    box.append(holder);
    const span = (role, v) => { const s = el("span", { "data-role": role, "data-v": String(v) }); s.textContent = fmt(v); return s; };
    box.append(el("p", { cls: "sum" }, [tf("t_sum", { n: prod.length }) + " = ", span("sum", total)]));
    box.append(el("p", { cls: "sum" }, [t("t_bias") + " ", span("bias", bias), "; " + t("t_pre") + " = ", span("pre", pre)]));
    box.append(el("p", { cls: "sum" }, [t("t_activation") + " " + L.activation + " → " + t("t_value") + " ", span("value", value)]));
  }

  function poolDetail(box, L, pos) {
    const x = source(L), y = output(L.index), c = S.ch;
    const cells = windowCells(L, pos, x.shape.slice(0, -1));
    const vals = cells.map(([offs, xs, inside]) => (inside ? at(x, xs.concat([c])) : null));
    let winner = -1;
    if (L.mode === "max") {  // the first maximum in row-major order wins (strictly greater replaces)
      vals.forEach((v, n) => { if (v !== null && (winner < 0 || v > vals[winner])) winner = n; });
    }
    const value = at(y, pos.concat([c]));
    box.dataset.layer = L.name; box.dataset.pos = pos.join(","); box.dataset.channel = String(c);
    box.append(el("h3", { text: L.name + " " + tuple(pos) + ", " + t("t_channel") + " " + c }));
    box.append(el("p", { cls: "note-line", text: tf("setup", { s: tuple(L.strides), p: L.padding, pads: tuple(L.pads.map(tuple)), d: tuple(L.dilation) }) }));
    box.append(el("div", { cls: "row" }, [whereCanvas(L, x, pos, c), el("p", { cls: "note-line", text: t("where") })]));
    box.append(el("div", { cls: "row" }, tables(L, tf("pool_window", { channel: c }), (n) => {
      if (vals[n] === null) return el("td", { class: "pad", title: "padding", "data-role": "window", "data-idx": String(n) });
      return td("window", n, vals[n], n === winner ? { class: "win", "data-winner": "true" } : {});
    })));
    const span = (role, v) => { const s = el("span", { "data-role": role, "data-v": String(v) }); s.textContent = fmt(v); return s; };
    if (L.mode === "max") {
      const w = el("span", { "data-role": "winner", "data-v": cells[winner][0].join(",") });
      w.textContent = tuple(cells[winner][0]);
      box.append(el("p", { cls: "sum" }, [t("winner") + " ", w]));
    } else {
      box.append(el("p", { cls: "sum", text: tf("average", { n: vals.filter((v) => v !== null).length }) }));
    }
    box.append(el("p", { cls: "sum" }, [t("t_value") + " ", span("value", value)]));
  }

  function bars(values, label) {
    const box = el("div", { cls: "bars", role: "img", "aria-label": label });
    const top = Math.max(1e-12, ...values.map(Math.abs));
    values.forEach((v, k) => {
      const b = el("span", { cls: v < 0 ? "neg" : "", title: k + ": " + fmt(v) });
      b.style.height = Math.max(1, (100 * Math.abs(v)) / top) + "%";
      box.append(b);
    });
    return box;
  }

  function renderDense() {
    const box = $("dense");
    box.replaceChildren();
    const last = D.layers[D.layers.length - 1];
    for (const L of D.layers) {
      if (L.view !== "bars" || L === last) continue;
      const y = output(L.index);
      box.append(el("h3", { text: L.name + " (" + L.cls + ") " + L.out }), bars(Array.from(y.data), L.name));
    }
    const probs = $("probs"), im = image();
    probs.replaceChildren();
    im.probs.forEach((p, k) => {
      const top = k === im.predicted, bar = el("div", { cls: "bar" });
      bar.style.width = Math.max(0.5, 100 * p) + "%";
      const attrs = top ? { cls: "top", "data-predicted": "true" } : {};
      probs.append(el("span", Object.assign({ text: D.classes[k] }, attrs)), el("div", attrs, [bar]),
        el("span", Object.assign({ text: (100 * p).toFixed(2) + "%" }, attrs)));
    });
  }

  function renderCam() {
    const select = $("cam-class"), im = image(), canvas = $("cam");
    if (!im.cam) {
      select.hidden = true; canvas.hidden = true;
      $("cam-note").textContent = t("cam_none") + (D.camError ? " " + D.camError : "");
      return;
    }
    const classes = Object.keys(im.cam.maps).map(Number);
    if (S.cls === null || !classes.includes(S.cls)) S.cls = classes.includes(im.predicted) ? im.predicted : classes[0];
    select.replaceChildren(...classes.map((k) => el("option", { value: String(k), text: D.classes[k] + " (" + (100 * im.probs[k]).toFixed(1) + "%)" })));
    select.value = String(S.cls);
    const heat = tensor(im.cam.maps[String(S.cls)]), x = tensor(im.x);
    const note = [tf("cam_layer", { layer: im.cam.layer })];
    if (im.cam.zero.includes(S.cls)) note.push(t("cam_zero"));
    $("cam-note").textContent = note.join(" ");
    canvas.dataset.cls = String(S.cls);
    drawInput(canvas, x, middle(x));
    canvas.classList.toggle("strip", canvas.height === 1);
    const ctx = canvas.getContext("2d", { willReadFrequently: true }), img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const hs = heat.shape, d = hs.length === 3 ? Math.floor(hs[0] / 2) : 0, w = canvas.width;
    if (hs.length === (x.shape.length - 1)) {
      for (let i = 0; i < canvas.height; i++) for (let j = 0; j < w; j++) {
        const v = heat.data[(d * canvas.height + i) * w + j] / 255, o = 4 * (i * w + j);
        // red through yellow, as opaque as the evidence is strong (no evidence: the image shows through)
        const r = 255, g = 255 * Math.max(0, 2 * v - 1), b = 0, a = 0.75 * Math.sqrt(v);
        img.data[o] = (1 - a) * img.data[o] + a * r;
        img.data[o + 1] = (1 - a) * img.data[o + 1] + a * g;
        img.data[o + 2] = (1 - a) * img.data[o + 2] + a * b;
      }
      ctx.putImageData(img, 0, 0);
    }
  }

  function renderGlossary() {
    const box = $("glossary");
    box.replaceChildren();
    for (const [ko, en, dko, den] of D.glossary) {
      box.append(el("dt", { text: S.lang === "ko" ? ko + " (" + en + ")" : en + " (" + ko + ")" }), el("dd", { text: S.lang === "ko" ? dko : den }));
    }
  }

  function renderAll() {
    renderTexts(); renderImages(); renderNetwork(); renderMaps(); renderDense(); renderCam(); renderGlossary();
  }

  $("lang").addEventListener("click", () => { S.lang = S.lang === "ko" ? "en" : "ko"; renderAll(); });
  $("cam-class").addEventListener("change", (ev) => { S.cls = Number(ev.target.value); renderCam(); });
  $("depth").addEventListener("input", (ev) => { S.depth = Number(ev.target.value); S.cell = null; renderMaps(); });
  const first = D.layers.find((L) => L.view === "conv") || D.layers.find((L) => ["pool", "maps"].includes(L.view));
  S.layer = first ? first.index : null;
  renderAll();
})();
