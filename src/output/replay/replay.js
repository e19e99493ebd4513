"use strict";
// The replay of a peergrid run: everything it shows comes from the JSON above (the run's output
// files, thinned into frames). Options after `#` in the address: frame=N (open paused at frame N),
// select=ID (a house's details), still (particles do not move: screenshots), selftest (drive the
// slider and a click and write what they showed into #selftest), bench=S (play S seconds and
// write the frame rate into #bench).
(function () {
  const D = JSON.parse(document.getElementById("replay-data").textContent);
  // Nodes, lines and houses come as columns: rows of objects from here on.
  const rows = (cols) => {
    const keys = Object.keys(cols), n = keys.length ? cols[keys[0]].length : 0, out = new Array(n);
    for (let i = 0; i < n; i++) { const o = {}; for (const k of keys) o[k] = cols[k][i]; out[i] = o; }
    return out;
  };
  D.nodes = rows(D.nodes); D.lines = rows(D.lines); D.houses = rows(D.houses);
  const $ = (id) => document.getElementById(id);
  const canvas = $("map"), ctx = canvas.getContext("2d");
  const chart = $("chart"), cctx = chart.getContext("2d");

  // Colours: the live map's house states; Okabe–Ito for the rest.
  const STATE = [
    { name: "exporting surplus", color: "#57b5e8" },
    { name: "covering itself", color: "#f0e342" },
    { name: "buying", color: "#e69e00" },
  ];
  const PEER = "#2ee59d", GRID = "#ffffff";
  const LOADING = [
    { upto: 0.5, color: "#4a5470", width: 1.5, name: "below 50% of capacity" },
    { upto: 0.8, color: "#9aa3bd", width: 2.5, name: "50–80%" },
    { upto: 1.0, color: "#e69f00", width: 3.5, name: "80–100%" },
    { upto: Infinity, color: "#ff3b30", width: 4.5, name: "at or over capacity" },
  ];
  const COMMUNITY = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"];
  const NIGHT = [8, 10, 26], DAY = [41, 61, 92];
  const ROOF = "#8c4a36", PANEL = "#1d3b8f", PANEL_LIT = "#6fa8ff", BATTERY = "#00a070";
  const MAX_PARTICLES = 4000;
  const PARTICLE_SPEED_PX_S = 38;
  // Below this a house's net power counts as none (it covers itself), kW.
  const NET_EPSILON_KW = 0.02;
  // Flows below this draw no particles, kW.
  const FLOW_EPSILON_KW = 0.05;
  const TOAST_MS = 1600;
  const SPEEDS = [1, 3, 8, 20, 60];
  const MAX_STRETCH = 12;

  const opts = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const [k, v] = part.split("=");
    opts[decodeURIComponent(k)] = v === undefined ? true : decodeURIComponent(v);
  }

  // Frame-major byte series: value of house h at frame f is at f * H + h.
  const bytes = (b64) => {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  };
  const PV = bytes(D.pv), LOAD = bytes(D.load), SOC = bytes(D.soc);
  const NET = new Int8Array(bytes(D.net).buffer);
  const H = D.houses.length, F = D.frames;
  // PV and the battery's charge are carried for the houses that have them: their positions.
  const pvAt = new Int32Array(H).fill(-1), socAt = new Int32Array(H).fill(-1);
  D.pv_houses.forEach((h, i) => { pvAt[h] = i; });
  D.battery_houses.forEach((h, i) => { socAt[h] = i; });
  const NPV = D.pv_houses.length, NBAT = D.battery_houses.length;
  const pvKw = (f, h) => (pvAt[h] < 0 ? 0 : (PV[f * NPV + pvAt[h]] / 255) * D.houses[h].pv_max_kw);
  const loadKw = (f, h) => (LOAD[f * H + h] / 255) * D.houses[h].load_max_kw;
  const netKw = (f, h) => (NET[f * H + h] / 127) * D.houses[h].net_max_kw;
  const socKwh = (f, h) => (socAt[h] < 0 ? 0 : (SOC[f * NBAT + socAt[h]] / 255) * D.houses[h].soc_max_kwh);
  // Cars and heat pumps at each frame (runs written before these columns have none: drawn in
  // one colour each, white and red, as the legend then says). Colours and names as on the live map.
  const EV_STATE = D.ev_state ? bytes(D.ev_state) : null, HEAT_STATE = D.heat_state ? bytes(D.heat_state) : null;
  const evAt = new Int32Array(H).fill(-1), heatAt = new Int32Array(H).fill(-1);
  D.ev_houses.forEach((h, i) => { evAt[h] = i; });
  D.heat_houses.forEach((h, i) => { heatAt[h] = i; });
  const CAR = [["away", "#2a2e3a"], ["plugged in", "#d9dbe6"], ["charging", "#2ee5e5"], ["supplying the house", "#e052d0"]];
  const PUMP = [["idle", "#4a4040"], ["heating", "#c8102e"], ["cooling", "#4d8cf2"]];
  const carState = (f, h) => (EV_STATE && evAt[h] >= 0 ? EV_STATE[f * D.ev_houses.length + evAt[h]] : 1);
  const pumpState = (f, h) => (HEAT_STATE && heatAt[h] >= 0 ? HEAT_STATE[f * D.heat_houses.length + heatAt[h]] : 1);

  // The tree the flows run on: breadth-first from the root; a meshed grid gets no line flows.
  const N = D.nodes.length;
  const adj = Array.from({ length: N }, () => []);
  D.lines.forEach((l, i) => { adj[l.from].push(i); adj[l.to].push(i); });
  const parentLine = new Int32Array(N).fill(-1), order = [], children = Array.from({ length: N }, () => []);
  // +1 when a line's `from` is the parent end, −1 when its `to` is.
  const lineDir = new Int8Array(D.lines.length);
  let radial = D.root !== null && D.lines.length === N - 1;
  if (D.root !== null) {
    const seen = new Uint8Array(N);
    seen[D.root] = 1; order.push(D.root);
    for (let q = 0; q < order.length; q++) {
      const v = order[q];
      for (const li of adj[v]) {
        const l = D.lines[li], u = l.from === v ? l.to : l.from;
        if (seen[u]) continue;
        seen[u] = 1; parentLine[u] = li; lineDir[li] = l.from === v ? 1 : -1;
        children[v].push(u); order.push(u);
      }
    }
    if (order.length !== N) radial = false;
  }
  const housesAt = Array.from({ length: N }, () => []);
  D.houses.forEach((h, i) => { if (h.node !== null) housesAt[h.node].push(i); });

  // Line flows by frame (kW, positive from the line's `from` to its `to`): the run's own
  // (`line_timeseries`), else on a radial grid the sum of the houses' net power below each line
  // (without losses); a meshed grid without them gets none.
  const FLOW = D.flow ? new Int8Array(bytes(D.flow).buffer) : null;
  const L = D.lines.length;
  const hasFlows = FLOW !== null || radial;

  // Per frame: each node's draw (kW, + takes in), each line's flow, and the share of it that
  // comes from the grid (flowing away from the root) or goes to it, by proportional sharing at
  // every node (Bialek 1996): the inflows of a node mix, and each outflow carries the mix.
  const draw = new Float64Array(N), sub = new Float64Array(N);
  const flow = new Float64Array(L), fromGrid = new Float64Array(L), toGrid = new Float64Array(L), gridShare = new Float64Array(L);
  const outLines = Array.from({ length: N }, () => []), inLines = Array.from({ length: N }, () => []);
  const indeg = new Int32Array(N), topo = new Int32Array(N);
  let flowsFrame = -1;
  function computeFlows(f) {
    if (flowsFrame === f) return;
    flowsFrame = f;
    draw.fill(0);
    for (let h = 0; h < H; h++) if (D.houses[h].node !== null) draw[D.houses[h].node] += netKw(f, h);
    if (!hasFlows) return;
    if (FLOW) {
      for (let li = 0; li < L; li++) flow[li] = (FLOW[f * L + li] / 127) * D.lines[li].flow_max_kw;
    } else {
      for (let q = order.length - 1; q >= 0; q--) {
        const v = order[q];
        let s = draw[v];
        for (const c of children[v]) s += sub[c];
        sub[v] = s;
        if (parentLine[v] >= 0) flow[parentLine[v]] = s * lineDir[parentLine[v]];
      }
    }
    // Topological order of the flows' directed graph (a DC solution has no cycles; a node a
    // rounding leaves in one is taken last).
    for (let v = 0; v < N; v++) { outLines[v].length = 0; inLines[v].length = 0; indeg[v] = 0; }
    for (let li = 0; li < L; li++) {
      const l = D.lines[li], a = Math.abs(flow[li]);
      if (a < 1e-9) continue;
      const [u, v] = flow[li] > 0 ? [l.from, l.to] : [l.to, l.from];
      outLines[u].push(li); inLines[v].push(li); indeg[v]++;
    }
    let head = 0, tail = 0;
    for (let v = 0; v < N; v++) if (indeg[v] === 0) topo[tail++] = v;
    while (head < tail) {
      const v = topo[head++];
      for (const li of outLines[v]) {
        const l = D.lines[li], u = l.from === v ? l.to : l.from;
        if (--indeg[u] === 0) topo[tail++] = u;
      }
    }
    if (tail < N) for (let v = 0; v < N; v++) if (indeg[v] > 0) topo[tail++] = v;
    // What the root exchanges with the grid: + supplies.
    const supply = (v) => {
      let e = draw[v];
      for (const li of outLines[v]) e += Math.abs(flow[li]);
      for (const li of inLines[v]) e -= Math.abs(flow[li]);
      return e;
    };
    const rootSupply = D.root !== null ? supply(D.root) : 0;
    for (let q = 0; q < N; q++) {
      const v = topo[q];
      let amt = Math.max(0, -draw[v]), grid = 0;
      if (v === D.root && rootSupply > 0) { amt += rootSupply; grid += rootSupply; }
      for (const li of inLines[v]) { const a = Math.abs(flow[li]); amt += a; grid += a * fromGrid[li]; }
      const s = amt > 0 ? grid / amt : 0;
      for (const li of outLines[v]) fromGrid[li] = s;
    }
    for (let q = N - 1; q >= 0; q--) {
      const v = topo[q];
      let amt = Math.max(0, draw[v]), grid = 0;
      if (v === D.root && rootSupply < 0) { amt -= rootSupply; grid -= rootSupply; }
      for (const li of outLines[v]) { const a = Math.abs(flow[li]); amt += a; grid += a * toGrid[li]; }
      const t = amt > 0 ? grid / amt : 0;
      for (const li of inLines[v]) toGrid[li] = t;
    }
    for (let li = 0; li < L; li++) gridShare[li] = Math.min(1, fromGrid[li] + toGrid[li]);
  }

  // Screen positions: the topology fitted into the map, thin feeders stretched across (a
  // schematic, as the report's map); houses without a node in a block below.
  let W = 0, Ht = 0, DPR = 1;
  const nodeX = new Float64Array(N), nodeY = new Float64Array(N);
  const houseX = new Float64Array(H), houseY = new Float64Array(H);
  let houseSize = 10;
  function layout() {
    DPR = window.devicePixelRatio || 1;
    const r = canvas.getBoundingClientRect();
    W = Math.max(200, r.width); Ht = Math.max(150, r.height);
    canvas.width = Math.round(W * DPR); canvas.height = Math.round(Ht * DPR);
    const top = 70, margin = 30;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const n of D.nodes) { x0 = Math.min(x0, n.x); x1 = Math.max(x1, n.x); y0 = Math.min(y0, n.y); y1 = Math.max(y1, n.y); }
    const loose = D.houses.filter((h) => h.node === null).length;
    const looseRows = loose ? Math.ceil(loose / Math.max(1, Math.floor((W - 2 * margin) / 16))) : 0;
    const w = W - 2 * margin, hgt = Ht - top - margin - looseRows * 16;
    if (N > 0) {
      const dx = Math.max(x1 - x0, 1e-9), dy = Math.max(y1 - y0, 1e-9);
      let sx = w / dx, sy = hgt / dy;
      if (x1 - x0 < 1e-6) sx = sy;
      if (y1 - y0 < 1e-6) sy = sx;
      const s = Math.min(sx, sy);
      sx = Math.min(sx, s * MAX_STRETCH); sy = Math.min(sy, s * MAX_STRETCH);
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      D.nodes.forEach((n, i) => { nodeX[i] = margin + w / 2 + (n.x - cx) * sx; nodeY[i] = top + hgt / 2 - (n.y - cy) * sy; });
    }
    const placed = D.houses.filter((h) => h.node !== null).length;
    houseSize = Math.max(3, Math.min(16, Math.sqrt((w * hgt) / Math.max(1, placed)) * 0.36));
    let k = 0;
    const perRow = Math.max(1, Math.floor(w / 16));
    for (let node = 0; node < N; node++) {
      const here = housesAt[node];
      here.forEach((h, j) => {
        // Several houses on one node (a block of flats) sit in a ring around it.
        const a = (2 * Math.PI * j) / here.length, rr = here.length > 1 ? houseSize * 0.9 : 0;
        houseX[h] = nodeX[node] + rr * Math.cos(a); houseY[h] = nodeY[node] + rr * Math.sin(a);
      });
    }
    D.houses.forEach((h, i) => {
      if (h.node !== null) return;
      houseX[i] = margin + 8 + (k % perRow) * 16; houseY[i] = Ht - margin - looseRows * 16 + 8 + Math.floor(k / perRow) * 16; k++;
    });
    makeSprites();
    makeLayer();
  }

  const lerp = (a, b, t) => a + (b - a) * t;
  const ghiMax = Math.max(1, ...D.series.ghi_w_m2);
  const fmt = (v, d) => (v === null || v === undefined || !isFinite(v) ? "–" : v.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d }));
  const kw = (v) => (Math.abs(v) >= 100 ? fmt(v, 0) : fmt(v, 1)) + " kW";

  function drawSky(f) {
    const t = Math.min(1, D.series.ghi_w_m2[f] / ghiMax);
    const c = NIGHT.map((n, i) => Math.round(lerp(n, DAY[i], Math.sqrt(t))));
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fillRect(0, 0, W, Ht);
    // The sun's arc across the top: across by the local hour, up by its elevation.
    const z = D.series.sun_zenith_deg[f], time = D.series.time[f] || "";
    const hour = parseInt(time.slice(11, 13), 10) + parseInt(time.slice(14, 16), 10) / 60;
    ctx.strokeStyle = "rgba(255,255,255,0.10)"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.ellipse(W / 2, 62, W * 0.42, 48, 0, Math.PI, 2 * Math.PI); ctx.stroke();
    if (z !== null && z < 90 && isFinite(hour)) {
      const elev = (90 - z) / 90, x = W / 2 + W * 0.42 * Math.max(-1, Math.min(1, (hour - 12) / 7));
      const y = 62 - 48 * Math.sqrt(Math.max(0, elev)) - 4;
      const g = ctx.createRadialGradient(x, y, 2, x, y, 22);
      g.addColorStop(0, "rgba(255,230,120,1)"); g.addColorStop(0.45, "rgba(255,210,80,0.9)"); g.addColorStop(1, "rgba(255,200,60,0)");
      ctx.fillStyle = g; ctx.beginPath(); ctx.arc(x, y, 22, 0, 2 * Math.PI); ctx.fill();
    }
  }

  function loadingClass(li) {
    const cap = D.lines[li].capacity_kw;
    if (!cap) return LOADING[0];
    const u = Math.abs(flow[li]) / cap;
    return LOADING.find((c) => u < c.upto) || LOADING[LOADING.length - 1];
  }

  // Lines are drawn into their own layer, again only when a line changes its loading class:
  // stroking 10,000 lines is most of a frame in a software canvas.
  let linesLayer = null, lineClass = null, linesValid = false;
  function drawLines() {
    if (!linesLayer || linesLayer.width !== canvas.width || linesLayer.height !== canvas.height) {
      linesLayer = document.createElement("canvas");
      linesLayer.width = canvas.width; linesLayer.height = canvas.height;
      lineClass = new Int8Array(L).fill(-1);
      linesValid = false;
    }
    for (let li = 0; li < L; li++) {
      const k = hasFlows ? LOADING.indexOf(loadingClass(li)) : 0;
      if (k !== lineClass[li]) { lineClass[li] = k; linesValid = false; }
    }
    if (!linesValid) {
      const g = linesLayer.getContext("2d");
      g.setTransform(DPR, 0, 0, DPR, 0, 0);
      g.clearRect(0, 0, W, Ht);
      g.lineCap = "round";
      LOADING.forEach((c, k) => {
        g.strokeStyle = c.color; g.lineWidth = c.width;
        g.beginPath();
        D.lines.forEach((l, li) => {
          if (lineClass[li] !== k) return;
          g.moveTo(nodeX[l.from], nodeY[l.from]); g.lineTo(nodeX[l.to], nodeY[l.to]);
        });
        g.stroke();
      });
      linesValid = true;
    }
    ctx.drawImage(linesLayer, 0, 0, W, Ht);
  }

  // Particles: spacing shrinks and size grows with the flow, so a busy line reads as a dense,
  // thick stream; each particle keeps its colour as it moves (grid share by its index).
  let particleCount = 0;
  function drawParticles(seconds) {
    if (!hasFlows) { particleCount = 0; return; }
    const spacing = new Float64Array(D.lines.length);
    let total = 0;
    D.lines.forEach((l, li) => {
      const a = Math.abs(flow[li]);
      if (a < FLOW_EPSILON_KW) return;
      spacing[li] = Math.max(7, Math.min(90, 40 / Math.sqrt(a)));
      total += Math.hypot(nodeX[l.to] - nodeX[l.from], nodeY[l.to] - nodeY[l.from]) / spacing[li];
    });
    const thin = total > MAX_PARTICLES ? total / MAX_PARTICLES : 1;
    particleCount = 0;
    const shift = seconds * PARTICLE_SPEED_PX_S;
    for (const [color, wantGrid] of [[PEER, false], [GRID, true]]) {
      ctx.fillStyle = color;
      ctx.beginPath();
      D.lines.forEach((l, li) => {
        if (!spacing[li]) return;
        const sp = spacing[li] * thin;
        const forward = flow[li] > 0;
        const [ax, ay, bx, by] = forward ? [nodeX[l.from], nodeY[l.from], nodeX[l.to], nodeY[l.to]] : [nodeX[l.to], nodeY[l.to], nodeX[l.from], nodeY[l.from]];
        const len = Math.hypot(bx - ax, by - ay);
        if (len < 1) return;
        const r = Math.min(5, 1.8 + 0.55 * Math.log2(1 + Math.abs(flow[li])));
        const phase = shift % sp, base = Math.floor(shift / sp);
        for (let j = 0; j * sp + phase < len; j++) {
          const id = j - base + li * 7919;
          const isGrid = ((id * 0.6180339887) % 1 + 1) % 1 < gridShare[li];
          if (isGrid !== wantGrid) continue;
          const t = (j * sp + phase) / len;
          const x = ax + (bx - ax) * t, y = ay + (by - ay) * t;
          ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI);
          particleCount++;
        }
      });
      ctx.fill();
    }
  }

  function houseState(f, h) {
    const n = netKw(f, h);
    return n < -NET_EPSILON_KW ? 0 : n > NET_EPSILON_KW ? 2 : 1;
  }

  // A house is a sprite drawn once per state and panel level at the current size (body in its
  // state's colour, roof, the panel on the roof lit by its output): 10,000 houses are 10,000
  // image copies a frame, far cheaper than their shapes in a software canvas.
  const PANEL_LEVELS = 5;
  const panelColors = Array.from({ length: PANEL_LEVELS }, (_, i) => (i === 0 ? PANEL : mix(PANEL, PANEL_LIT, i / (PANEL_LEVELS - 1))));
  let sprites = [], spriteW = 0, spriteH = 0;
  function makeSprites() {
    const s = houseSize, bw = s, bh = s * 0.7;
    spriteW = Math.ceil(bw + 4); spriteH = Math.ceil(bh + s * 0.5 + 2);
    sprites = [];
    for (let k = 0; k < STATE.length; k++) {
      for (let level = -1; level < PANEL_LEVELS; level++) {
        const c = document.createElement("canvas");
        c.width = Math.ceil(spriteW * DPR); c.height = Math.ceil(spriteH * DPR);
        const g = c.getContext("2d");
        g.scale(DPR, DPR);
        // The house's (x, y) sits at (spriteW / 2, spriteH / 2 + s * 0.05).
        const x = spriteW / 2, y = spriteH / 2 + s * 0.05;
        g.fillStyle = STATE[k].color; g.fillRect(x - bw / 2, y - bh / 2 + s * 0.1, bw, bh);
        g.fillStyle = ROOF; g.beginPath(); g.moveTo(x - bw / 2 - 1, y - bh / 2 + s * 0.1); g.lineTo(x, y - bh / 2 - s * 0.4); g.lineTo(x + bw / 2 + 1, y - bh / 2 + s * 0.1); g.closePath(); g.fill();
        if (level >= 0) {
          g.fillStyle = panelColors[level]; g.beginPath(); g.moveTo(x + 0.5, y - bh / 2 - s * 0.3); g.lineTo(x + bw / 2 - 0.5, y - bh / 2 + s * 0.05); g.lineTo(x + 1, y - bh / 2 + s * 0.05); g.closePath(); g.fill();
        }
        sprites.push(c);
      }
    }
  }

  // The houses' layer: the sprites' pixels copied into one image when the frame changes (a
  // software canvas draws 10,000 small images or shapes in about 100 ms, this in a few), then
  // drawn over the lines in one copy per screen refresh.
  let layer = null, layerCtx = null, layerImage = null, layerPixels = null, spritePixels = [], layerFrame = -1;
  function makeLayer() {
    layer = document.createElement("canvas");
    layer.width = canvas.width; layer.height = canvas.height;
    layerCtx = layer.getContext("2d");
    layerImage = layerCtx.createImageData(layer.width, layer.height);
    layerPixels = new Uint32Array(layerImage.data.buffer);
    spritePixels = sprites.map((c) => ({ w: c.width, h: c.height, px: new Uint32Array(c.getContext("2d").getImageData(0, 0, c.width, c.height).data.buffer) }));
    layerFrame = -1;
  }
  const COMMUNITY_PIXELS = COMMUNITY.map((c) => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    return new Uint32Array(new Uint8ClampedArray([r, g, b, 255]).buffer)[0];
  });
  function drawHouseLayer(f) {
    const s = houseSize, bw = s, bh = s * 0.7, LW = layer.width, LH = layer.height;
    layerPixels.fill(0);
    const ox = spriteW / 2, oy = spriteH / 2 + s * 0.05;
    for (let h = 0; h < H; h++) {
      const hs = D.houses[h];
      if (hs.community !== null) {
        const color = COMMUNITY_PIXELS[hs.community % COMMUNITY_PIXELS.length];
        const x0 = Math.max(0, Math.round((houseX[h] - bw / 2 - 2) * DPR)), x1 = Math.min(LW, Math.round((houseX[h] + bw / 2 + 2) * DPR));
        const y0 = Math.max(0, Math.round((houseY[h] - bh / 2 - s * 0.45 - 2) * DPR)), y1 = Math.min(LH, Math.round((houseY[h] + bh / 2 + 2) * DPR));
        for (let y = y0; y < y1; y++) layerPixels.fill(color, y * LW + x0, y * LW + x1);
      }
      let level = -1;
      if (pvAt[h] >= 0) {
        const lit = hs.pv_max_kw > 0 ? pvKw(f, h) / hs.pv_max_kw : 0;
        level = Math.min(PANEL_LEVELS - 1, Math.round(lit * (PANEL_LEVELS - 1)));
      }
      const sp = spritePixels[houseState(f, h) * (PANEL_LEVELS + 1) + level + 1];
      const px = Math.round((houseX[h] - ox) * DPR), py = Math.round((houseY[h] - oy) * DPR);
      for (let y = 0; y < sp.h; y++) {
        const ly = py + y;
        if (ly < 0 || ly >= LH) continue;
        for (let x = 0; x < sp.w; x++) {
          const lx = px + x, p = sp.px[y * sp.w + x];
          if (lx >= 0 && lx < LW && p >>> 24) layerPixels[ly * LW + lx] = p;
        }
      }
    }
    layerCtx.putImageData(layerImage, 0, 0);
    layerFrame = f;
  }

  function drawHouses(f) {
    const s = houseSize, bw = s, bh = s * 0.7, detail = s >= 7;
    const fillPath = (color, add) => { ctx.fillStyle = color; add(); };
    if (layerFrame !== f) drawHouseLayer(f);
    ctx.drawImage(layer, 0, 0, W, Ht);
    if (detail) {
      const tall = bh + s * 0.1;
      fillPath("#20242f", () => { for (const h of D.battery_houses) ctx.fillRect(houseX[h] + bw / 2 + 2, houseY[h] - bh / 2, 3, tall); });
      fillPath(BATTERY, () => {
        for (const h of D.battery_houses) {
          const hs = D.houses[h];
          if (!(hs.soc_max_kwh > 0)) continue;
          const fill = socKwh(f, h) / hs.soc_max_kwh;
          ctx.fillRect(houseX[h] + bw / 2 + 2, houseY[h] + s * 0.1 + bh / 2 - tall * fill, 3, tall * fill);
        }
      });
      // One fill per state colour, each over the devices in that state.
      CAR.forEach(([, color], state) => fillPath(color, () => {
        for (const h of D.ev_houses) if (carState(f, h) === state) ctx.fillRect(houseX[h] - bw / 2, houseY[h] + bh / 2 + s * 0.2, bw * 0.7, s * 0.25);
      }));
      PUMP.forEach(([, color], state) => fillPath(color, () => {
        for (const h of D.heat_houses) {
          if (pumpState(f, h) !== state) continue;
          const x = houseX[h] - bw / 2 - 3, y = houseY[h] + bh / 2;
          ctx.beginPath(); ctx.arc(x, y, 2.2, 0, 2 * Math.PI); ctx.fill();
        }
      }));
    }
    if (selected >= 0) {
      const x = houseX[selected], y = houseY[selected];
      ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 2;
      ctx.strokeRect(x - bw / 2 - 4, y - bh / 2 - s * 0.5 - 4, bw + 8, bh + s * 0.6 + 8);
    }
    if (D.root !== null) {
      const x = nodeX[D.root], y = nodeY[D.root], r = Math.max(9, houseSize);
      ctx.fillStyle = "#d9d9e8"; ctx.strokeStyle = "#0b0e1a"; ctx.lineWidth = 2;
      ctx.fillRect(x - r, y - r * 0.8, 2 * r, 1.6 * r); ctx.strokeRect(x - r, y - r * 0.8, 2 * r, 1.6 * r);
      ctx.fillStyle = "#0b0e1a"; ctx.font = `bold ${Math.round(r)}px sans-serif`; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText("⚡", x, y + 1);
    }
  }

  function mix(a, b, t) {
    const p = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    const [x, y] = [p(a), p(b)];
    return `rgb(${x.map((v, i) => Math.round(lerp(v, y[i], Math.min(1, t)))).join(",")})`;
  }

  // The panel: the clock, four headline figures, the last day's chart, the selected house.
  function clockText(f) {
    const t = D.series.time[f] || "";
    const d = new Date(t.slice(0, 19) + "Z");
    if (isNaN(d)) return t;
    const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return `${days[d.getUTCDay()]} ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${t.slice(11, 16)}`;
  }

  function updatePanel(f) {
    $("clock").textContent = clockText(f);
    const s = D.series, price = s.clearing_price[f];
    const cells = [
      ["PV now", kw(s.pv_kw[f])],
      ["traded between peers", kw(s.p2p_kw[f])],
      D.grid_connected ? ["from the grid", kw(s.import_kw[f])] : ["unserved", kw(s.unserved_kw[f])],
      D.grid_connected ? ["to the grid", kw(s.export_kw[f])] : ["load", kw(s.load_kw[f])],
      [`peer price, ${D.currency}/kWh`, price === null ? "no trades" : fmt(price, 3)],
      [D.frame_steps > 1 ? "trades this frame" : "trades this step", fmt(s.trades[f], 0)],
    ];
    $("headline").innerHTML = cells.map(([k, v]) => `<div><div class="k">${k}</div><div class="v">${v}</div></div>`).join("");
    $("slider").value = f;
    $("frame").textContent = `frame ${f + 1} / ${F}`;
    drawChart(f);
    showHouse(f);
  }

  function drawChart(f) {
    const w = chart.width, h = chart.height, s = D.series;
    const span = Math.max(2, Math.round((24 * 60) / (D.step_minutes * D.frame_steps)));
    const a = Math.max(0, f - span + 1);
    let top = 0.1;
    for (let i = a; i <= f; i++) top = Math.max(top, s.pv_kw[i], s.load_kw[i]);
    cctx.clearRect(0, 0, w, h);
    const X = (i) => 4 + ((i - a) / (span - 1)) * (w - 8), Y = (v) => h - 6 - (v / top) * (h - 14);
    for (const [key, color] of [["pv_kw", "#f0e442"], ["load_kw", "#56b4e9"], ["p2p_kw", "#2ee59d"]]) {
      cctx.strokeStyle = color; cctx.lineWidth = 2; cctx.beginPath();
      for (let i = a; i <= f; i++) (i === a ? cctx.moveTo : cctx.lineTo).call(cctx, X(i), Y(s[key][i]));
      cctx.stroke();
    }
    cctx.fillStyle = "#a4a9c0"; cctx.font = "11px sans-serif"; cctx.textAlign = "left"; cctx.textBaseline = "top";
    cctx.fillText(`last day, up to ${kw(top)}`, 6, 3);
  }

  let selected = -1;
  function showHouse(f) {
    const box = $("house");
    if (selected < 0) { box.hidden = true; return; }
    const h = D.houses[selected], n = netKw(f, selected);
    const rows = [
      ["community", h.community === null ? "none" : D.communities[h.community]],
      ["PV", h.kwp > 0 ? `${kw(pvKw(f, selected))} of ${fmt(h.kwp, 1)} kWp` : "none"],
      ["load", kw(loadKw(f, selected))],
      [n >= 0 ? "draws" : "sends out", kw(Math.abs(n))],
    ];
    if (h.battery_kwh > 0) rows.push(["battery", `${fmt(socKwh(f, selected), 1)} of ${fmt(h.battery_kwh, 1)} kWh`]);
    if (h.ev) rows.push(["electric vehicle", EV_STATE ? CAR[carState(f, selected)][0] : "yes"]);
    if (h.heat_pump) rows.push(["heat pump", HEAT_STATE ? PUMP[pumpState(f, selected)][0] : "yes"]);
    if (h.bill !== null) rows.push(["bill over the run", `${fmt(h.bill, 2)} ${D.currency}`]);
    if (h.savings !== null) rows.push(["saved against the grid alone", `${fmt(h.savings, 2)} ${D.currency}`]);
    box.innerHTML = `<h2>House ${esc(h.id)}</h2><table>${rows.map(([k, v]) => `<tr><td>${k}</td><td>${esc(String(v))}</td></tr>`).join("")}</table>`;
    box.hidden = false;
  }
  const esc = (t) => t.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  function buildLegend() {
    const items = [];
    items.push("<h3>Houses</h3>" + STATE.map((s) => `<div><i style="background:${s.color}"></i>${s.name}</div>`).join(""));
    if (D.communities.length) items.push("<h3>Communities (at the end of the run)</h3>" + D.communities.map((c, i) => `<div><i style="background:${COMMUNITY[i % COMMUNITY.length]}"></i>${esc(c)}</div>`).join(""));
    const extras = [];
    if (D.houses.some((h) => h.kwp > 0)) extras.push(`<div><i style="background:${PANEL_LIT}"></i>PV panel, brighter as it produces</div>`);
    if (D.houses.some((h) => h.battery_kwh > 0)) extras.push(`<div><i style="background:${BATTERY}"></i>battery, filled to its charge</div>`);
    // Each state where the series has them; else the one colour every car or pump is drawn in.
    const key = (states, known, fallback, cls, what) => {
      const shown = known ? states : [states[fallback]];
      return `<div>${shown.map(([, c]) => `<i${cls} style="background:${c}"></i>`).join("")}${what}${known ? ": " + states.map(([n]) => n).join(", ") : ""}</div>`;
    };
    if (D.ev_houses.length) extras.push(key(CAR, EV_STATE !== null, 1, "", "car"));
    if (D.heat_houses.length) extras.push(key(PUMP, HEAT_STATE !== null, 1, ' class="dot"', "heat pump"));
    items.push(extras.join(""));
    if (hasFlows) {
      items.push(`<h3>Power flowing</h3><div><i class="dot" style="background:${PEER}"></i>between neighbours</div><div><i class="dot" style="background:${GRID}"></i>to or from the grid</div><div>denser and larger as the power grows</div>`);
      items.push("<h3>Lines, by loading</h3>" + LOADING.map((c) => `<div><i class="bar" style="background:${c.color}"></i>${c.name}</div>`).join(""));
    } else {
      items.push("<h3>Lines</h3><div>A meshed grid without its line series (run with --replay): the flows on its lines are not drawn.</div>");
    }
    $("legend").innerHTML = items.join("");
  }

  let frame = 0, playing = false, speed = SPEEDS[2], acc = 0, last = null, toastUntil = 0;
  const blockAt = new Map(D.blocks.map((b) => [b.frame, b]));

  function setFrame(f, fromPlay) {
    frame = Math.max(0, Math.min(F - 1, Math.round(f) || 0));
    computeFlows(frame);
    updatePanel(frame);
    const b = blockAt.get(frame);
    if (b && fromPlay) {
      $("toast").textContent = b.count === 1
        ? `Block ${b.height} sealed by witness ${b.producer} · ${b.transactions} transactions`
        : `${b.count} blocks sealed, the last (${b.height}) by witness ${b.producer} · ${b.transactions} transactions`;
      $("toast").classList.add("on");
      toastUntil = performance.now() + TOAST_MS;
    }
  }

  // A scenario's clouds (summary.json's `clouds`) over the houses under them while they pass:
  // puffs over the houses' bounding box, thicker (greyer) the less sun they let through.
  function drawClouds(f, seconds) {
    for (const c of D.clouds) {
      if (f < c.from || f > c.to) continue;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const h of c.houses) {
        if (D.houses[h].node === null) continue;
        x0 = Math.min(x0, houseX[h]); x1 = Math.max(x1, houseX[h]); y0 = Math.min(y0, houseY[h]); y1 = Math.max(y1, houseY[h]);
      }
      if (!(x1 >= x0)) continue;
      const pad = 14 + houseSize, w = x1 - x0 + 2 * pad, h = y1 - y0 + 2 * pad, cx = (x0 + x1) / 2 + Math.sin(seconds * 0.4) * 4, cy = (y0 + y1) / 2;
      // Overlapping puffs along the box's long side, alternating either side of its middle, so
      // it reads as a cloud rather than a zone.
      const wide = w >= h, major = wide ? w : h, minor = Math.max(wide ? h : w, 40);
      const puffs = Math.max(3, Math.ceil((2 * major) / minor) + 1);
      ctx.save();
      ctx.globalAlpha = 0.42;
      ctx.fillStyle = mix("#eef1f6", "#7d8699", 1 - c.transmittance);
      ctx.beginPath();
      for (let i = 0; i < puffs; i++) {
        const along = -major / 2 + ((i + 0.5) / puffs) * major, side = (i % 2 ? 1 : -1) * minor * 0.18;
        const r = minor * (0.42 + 0.1 * (i % 3));
        const px = cx + (wide ? along : side), py = cy + (wide ? side : along);
        ctx.moveTo(px + r, py);
        ctx.arc(px, py, r, 0, 2 * Math.PI);
      }
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#ffffff"; ctx.font = "bold 13px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
      ctx.fillText(`cloud: ${Math.round(c.transmittance * 100)}% of the sun gets through`, cx, cy - (wide ? minor * 0.7 : major / 2 + minor * 0.5) - 4);
      ctx.restore();
    }
  }

  function render(now) {
    const seconds = opts.still ? 0 : now / 1000;
    ctx.setTransform(DPR, 0, 0, DPR, 0, 0);
    drawSky(frame);
    drawLines();
    drawParticles(seconds);
    drawHouses(frame);
    drawClouds(frame, seconds);
    if (toastUntil && now > toastUntil) { $("toast").classList.remove("on"); toastUntil = 0; }
  }

  function tick(now) {
    if (last !== null && playing) {
      acc += ((now - last) / 1000) * speed;
      if (acc >= 1) {
        const step = Math.floor(acc);
        acc -= step;
        if (frame + step >= F) { setFrame(F - 1, true); setPlaying(false); } else setFrame(frame + step, true);
      }
    }
    last = now;
    render(now);
    requestAnimationFrame(tick);
  }

  function setPlaying(p) {
    playing = p && F > 1;
    if (playing && frame >= F - 1) setFrame(0, false);
    $("play").textContent = playing ? "❚❚" : "▶";
    $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
  }

  function houseAt(px, py) {
    let best = -1, bestD = Infinity;
    for (let h = 0; h < H; h++) {
      const d = Math.hypot(houseX[h] - px, houseY[h] - py);
      if (d < bestD) { bestD = d; best = h; }
    }
    return bestD <= Math.max(10, houseSize * 1.2) ? best : -1;
  }

  // Wiring.
  $("title").textContent = D.scenario;
  const thinned = D.frame_steps > 1 ? `, ${D.frame_steps} steps a frame` : "";
  const switches = (D.rule_switches || []).map((s) => `, ${s.rule} from step ${s.step}`).join("");
  $("subtitle").textContent = `rule ${D.rule}${switches}, seed ${D.seed} · ${H.toLocaleString("en")} households · ${D.steps.toLocaleString("en")} steps of ${D.step_minutes} min${thinned}`;
  for (const s of SPEEDS) {
    const o = document.createElement("option");
    o.value = s; o.textContent = `${s} frame${s > 1 ? "s" : ""}/s`;
    if (s === speed) o.selected = true;
    $("speed").appendChild(o);
  }
  $("speed").addEventListener("change", (e) => { speed = Number(e.target.value); });
  $("slider").max = F - 1;
  $("slider").addEventListener("input", (e) => setFrame(Number(e.target.value), false));
  $("play").addEventListener("click", () => setPlaying(!playing));
  canvas.addEventListener("click", (e) => {
    const r = canvas.getBoundingClientRect();
    selected = houseAt(e.clientX - r.left, e.clientY - r.top);
    showHouse(frame);
  });
  document.addEventListener("keydown", (e) => {
    // The slider and the speed list handle their own keys (arrows would step twice).
    if (e.target.tagName === "SELECT" || (e.target.tagName === "INPUT" && e.key !== " ")) return;
    if (e.key === " ") { setPlaying(!playing); e.preventDefault(); }
    else if (e.key === "ArrowRight") setFrame(frame + 1, false);
    else if (e.key === "ArrowLeft") setFrame(frame - 1, false);
    else if (e.key === "Home") setFrame(0, false);
    else if (e.key === "End") setFrame(F - 1, false);
  });
  window.addEventListener("resize", () => { layout(); render(performance.now()); });

  buildLegend();
  layout();
  if (opts.select !== undefined) selected = D.houses.findIndex((h) => h.id === opts.select);
  setFrame(opts.frame !== undefined ? Number(opts.frame) : 0, false);
  render(performance.now());

  if (opts.selftest) selftest();
  else if (opts.bench) bench(Number(opts.bench) || 3);
  else {
    if (opts.frame === undefined) setPlaying(true);
    requestAnimationFrame(tick);
  }

  // What a test drives through the page's own handlers: the slider's input event, a click on a
  // house, a frame's particles.
  function selftest() {
    const out = { frames: F, houses: H, radial, line_flows: FLOW !== null };
    const slider = $("slider");
    slider.value = 0; slider.dispatchEvent(new Event("input"));
    out.clock_first = $("clock").textContent;
    const target = Math.floor((F - 1) / 2);
    slider.value = target; slider.dispatchEvent(new Event("input"));
    out.clock_after_slider = $("clock").textContent;
    out.frame_after_slider = frame;
    out.expected_clock = clockText(target);
    const h = D.houses.findIndex((x) => x.node !== null);
    if (h >= 0) {
      const r = canvas.getBoundingClientRect();
      canvas.dispatchEvent(new MouseEvent("click", { clientX: r.left + houseX[h], clientY: r.top + houseY[h], bubbles: true }));
      out.clicked = D.houses[h].id;
      out.house_box = $("house").hidden ? "" : $("house").textContent;
    }
    // The frame with the most power on the lines: its particles are drawn.
    let busiest = 0, most = -1;
    for (let f = 0; f < F; f++) { const v = D.series.p2p_kw[f] + D.series.import_kw[f] + D.series.export_kw[f]; if (v > most) { most = v; busiest = f; } }
    setFrame(busiest, false);
    render(0);
    out.busiest_frame = busiest;
    out.particles = particleCount;
    // How often each car and heat-pump state is shown over the run, and a car's house card.
    const count = (S, k) => { if (!S) return null; const c = new Array(k).fill(0); for (const v of S) c[v]++; return c; };
    out.clouds = D.clouds.map((c) => [c.from, c.to, c.houses.length]);
    if (D.clouds.length) {
      // The first cloud's first frame drawn with and without the clouds: the pixels it covers.
      setFrame(D.clouds[0].from, false);
      const pixels = () => { render(0); return ctx.getImageData(0, 0, canvas.width, canvas.height).data; };
      const withClouds = pixels(), clouds = D.clouds;
      D.clouds = [];
      const without = pixels();
      D.clouds = clouds;
      let covered = 0;
      for (let i = 0; i < without.length; i += 4) if (withClouds[i] !== without[i] || withClouds[i + 1] !== without[i + 1] || withClouds[i + 2] !== without[i + 2]) covered++;
      out.cloud_pixels = covered;
    }
    out.car_states = count(EV_STATE, CAR.length);
    out.pump_states = count(HEAT_STATE, PUMP.length);
    if (D.ev_houses.length) { selected = D.ev_houses[0]; showHouse(frame); out.car_house_box = $("house").textContent; }
    $("selftest").textContent = JSON.stringify(out);
    $("selftest").hidden = false;
  }

  // Plays as fast as frames are drawn for `seconds` and reports the frame rate.
  function bench(seconds) {
    setPlaying(false);
    let frames = 0, drawMs = 0;
    const t0 = performance.now();
    function step(now) {
      const a = performance.now();
      setFrame((frame + 1) % F, true);
      render(now);
      drawMs += performance.now() - a;
      frames++;
      if (now - t0 < seconds * 1000) requestAnimationFrame(step);
      else {
        $("bench").textContent = JSON.stringify({ frames, seconds: (now - t0) / 1000, fps: frames / ((now - t0) / 1000), draw_ms_mean: drawMs / frames, particles: particleCount });
        $("bench").hidden = false;
        // A headless browser prints this with --enable-logging=stderr.
        console.log("peergrid-replay-bench " + $("bench").textContent);
      }
    }
    requestAnimationFrame(step);
  }
})();
