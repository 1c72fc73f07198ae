// Harness for dist/dev/webview.js in plain Chromium: a fake acquireVsCodeApi and a synthetic inspection payload,
// its tensors held by a stand-in of the inference process's store (dist/dev/harnessStore.js) that answers the queries.
// Everything the webview posts lands in window.__posted; CSP violations in window.__cspViolations.
// URL parameters: theme=dark|light|hc, cnn=0 (no CNN), view=<PanelState view>, layers, heads, grid, delay (ms).
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const num = (k, d) => (params.has(k) ? Number(params.get(k)) : d);
  const L = num('layers', 12), H = num('heads', 12), G = num('grid', 14), P = 16;
  const prefix = ['cls'];
  const T = prefix.length + G * G;
  const size = G * P;
  const theme = params.get('theme') || 'dark';
  const kind = theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark';
  document.body.className = kind;
  document.body.setAttribute('data-vscode-theme-kind', kind);

  window.__posted = [];
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile + ':' + e.lineNumber });
  });

  // ---- synthetic data (deterministic)
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);

  function makeImage(w, h) {
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        const dx = x - w * 0.55, dy = y - h * 0.45;
        const inBlob = dx * dx + dy * dy < (w * 0.22) ** 2;
        rgba[i] = inBlob ? 220 : 40 + (x * 120) / w;
        rgba[i + 1] = inBlob ? 140 : 90 + (y * 100) / h;
        rgba[i + 2] = inBlob ? 60 : 160;
        rgba[i + 3] = 255;
      }
    }
    return { width: w, height: h, rgba };
  }

  /** scores[l,h,q,k] = -(distance^2) / (2 sigma^2) plus CLS bias and noise; attention = softmax(scores) per row. */
  function makeAttention() {
    const n = T * T * L * H;
    const scores = new Float32Array(n);
    const att = new Float32Array(n);
    const pos = (t) => (t < prefix.length ? null : [Math.floor((t - prefix.length) / G), (t - prefix.length) % G]);
    const row = new Float64Array(T);
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        // early layers: a mix of local and global heads; later layers: mostly global
        const local = (h + l) % 3 !== 0 && l < L * 0.75;
        const sigma = local ? 0.6 + (h % 4) * 0.5 + l * 0.15 : 4 + l * 0.8 + h * 0.3;
        const offR = ((h % 3) - 1) * (local ? 1 : 0), offC = (((h >> 1) % 3) - 1) * (local ? 1 : 0);
        const clsBias = 1 + (l / L) * 3;
        for (let q = 0; q < T; q++) {
          const pq = pos(q);
          const base = ((l * H + h) * T + q) * T;
          let max = -Infinity;
          for (let k = 0; k < T; k++) {
            const pk = pos(k);
            let s;
            if (!pk) s = clsBias;
            else if (!pq) {
              const dr = pk[0] - G * 0.45, dc = pk[1] - G * 0.55;
              s = -(dr * dr + dc * dc) / (2 * (3 + h * 0.4) ** 2) * 3;
            } else {
              const dr = pk[0] - pq[0] - offR, dc = pk[1] - pq[1] - offC;
              s = -(dr * dr + dc * dc) / (2 * sigma * sigma) * 3;
            }
            s += (rand() - 0.5) * 0.6;
            scores[base + k] = s;
            row[k] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let k = 0; k < T; k++) { row[k] = Math.exp(row[k] - max); sum += row[k]; }
          for (let k = 0; k < T; k++) att[base + k] = row[k] / sum;
        }
      }
    }
    return { scores, att };
  }

  /** A ResNet-50-like stem and stages: rf/jump/start per layer (Araujo et al.), 224 x 224 input. */
  function makeCnn() {
    const layers = [];
    let rf = 1, jump = 1, start = 0.5;
    const add = (name, op, k, s, p) => {
      rf = rf + (k - 1) * jump;
      start = start + ((k - 1) / 2 - p) * jump;
      jump = jump * s;
      layers.push({ node: name, op, output: name + '_out', rf: [rf, rf], jump: [jump, jump], start: [start, start] });
    };
    add('conv1', 'Conv', 7, 2, 3);
    add('pool1', 'MaxPool', 3, 2, 1);
    const stages = [3, 4, 6, 3];
    stages.forEach((blocks, si) => {
      for (let b = 0; b < blocks; b++) {
        add(`layer${si + 1}.${b}.conv1`, 'Conv', 1, 1, 0);
        add(`layer${si + 1}.${b}.conv2`, 'Conv', 3, b === 0 && si > 0 ? 2 : 1, 1);
        add(`layer${si + 1}.${b}.conv3`, 'Conv', 1, 1, 0);
      }
    });
    return { model: 'resnet50-synthetic', inputSize: [224, 224], layers };
  }

  const labels = ['tabby cat', 'tiger cat', 'Egyptian cat', 'lynx', 'golden retriever', 'red fox', 'tennis ball', 'orange'];
  function predictions(shift) {
    const p = [0.52, 0.21, 0.12, 0.06, 0.03, 0.02, 0.01, 0.005];
    return labels.map((label, i) => ({ index: 281 + i, label, probability: Math.max(0, p[i] + (shift ? (i === 0 ? -0.3 : i === 4 ? 0.25 : 0.01) : 0)) }))
      .sort((a, b) => b.probability - a.probability);
  }

  let payload = null;
  let attention = null; // the whole tensor stays in the stand-in store (window.__harnessStore), as in the inference process
  function makePayload() {
    const t0 = performance.now();
    const { scores, att } = makeAttention();
    const image = makeImage(size, size);
    const withCnn = params.get('cnn') !== '0';
    attention = att;
    payload = {
      id: 1,
      imageName: 'synthetic.png',
      imagePath: '/images/synthetic.png',
      image,
      preview: image,
      summary: {
        name: 'vit-synthetic.onnx', path: '/models/vit-synthetic.onnx', layers: L, heads: H, dModel: H * 64, headDim: 64, tokens: T,
        parameters: 85800000, opset: 17, producer: 'pytorch 2.3',
        layout: { patchSize: [P, P], grid: [G, G], inputSize: [size, size], prefixTokens: prefix, tokens: T },
        preprocessing: { size: [size, size], resizeTo: { shortestEdge: 256 }, resample: 'bilinear', centerCrop: [size, size], rescaleFactor: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], source: 'preprocessor_config.json' },
        attentionNodes: Array.from({ length: L }, (_, l) => ({ node: `/blocks.${l}/attn/Softmax`, scores: `s${l}`, probs: `p${l}`, layout: 'BHNN' })),
        notes: ['synthetic payload from webview/dev/harness.js'],
      },
      predictions: predictions(false),
      cnn: withCnn ? makeCnn() : null,
      cnnError: withCnn ? null : 'No CNN selected: choose an ONNX CNN (e.g. a ResNet) to compare receptive fields.',
      settings: { colormap: params.get('colormap') || 'viridis', topK: 5 },
    };
    window.__payloadMs = performance.now() - t0;
    window.__harnessStore.put(payload.id, stored(payload, att), scores);
    return payload;
  }

  function stored(p, att, masked = []) {
    return { summary: p.summary, predictions: p.predictions, logits: new Float32Array(8), attention: att, scores: new Float32Array(0),
      modelImage: { width: size, height: size, rgb: new Uint8Array(size * size * 3) }, preview: p.preview, maskedTokens: masked, timings: {} };
  }

  function maskedAttention(masked) {
    const src = attention;
    const out = new Float32Array(src.length);
    const m = new Uint8Array(T);
    for (const t of masked) m[t] = 1;
    for (let r = 0; r < L * H * T; r++) {
      const base = r * T;
      let sum = 0;
      for (let k = 0; k < T; k++) if (!m[k]) sum += src[base + k];
      for (let k = 0; k < T; k++) out[base + k] = m[k] || sum === 0 ? 0 : src[base + k] / sum;
    }
    return out;
  }

  /** A synthetic anatomy for the Anatomy view: random q, k, v; the softmax row is the payload's own row. */
  function makeAnatomy(m) {
    const d = 64, D = H * d;
    let seed = 1 + m.layer * 1000 + m.head * 100 + m.query;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5);
    const vec = (n) => Float32Array.from({ length: n }, rnd);
    const base = ((m.layer * H + m.head) * T + m.query) * T;
    const probs = attention.slice(base, base + T);
    const v = vec(T * d);
    const out = new Float32Array(d);
    for (let j = 0; j < T; j++) for (let i = 0; i < d; i++) out[i] += probs[j] * v[j * d + i];
    const scores = Float32Array.from(probs, (p) => Math.log(Math.max(p, 1e-12)) * 8);
    const patch = m.query >= prefix.length ? m.query - prefix.length : -1;
    const rgb = new Uint8Array(P * P * 3).map((_, i) => (i * 7 + m.query) % 256);
    const token = vec(D);
    const contributors = Array.from(probs, (p, token) => ({ token, weight: p, norm: p })).sort((a, b) => b.norm - a.norm).slice(0, 5);
    return {
      model: 'vit-synthetic.onnx', layer: m.layer, head: m.head, query: m.query, layers: L, heads: H, tokens: T, dHead: d, dModel: D,
      layout: payload.summary.layout,
      scale: { effective: 0.125, expected: 0.125, onQ: 0.125, onK: 1, inProduct: 1, after: 1, bias: false, description: 'q is pre-scaled by 1/√64 before the product: effective scale 0.125000 = 1/√d_k with d_k = 64' },
      q: vec(d), k: vec(T * d), v, scores, scaledScores: Float32Array.from(scores, (s) => s / 8), softmax: probs, probs, weightedSum: out, out,
      contributors, concat: vec(D), projection: { computed: token, model: token, weight: 'proj.weight' },
      patch: m.layer === 0 && patch >= 0 ? { kind: 'conv', node: '/patch_embed/proj/Conv', patch, row: Math.floor(patch / G), col: patch % G, vector: vec(3 * P * P), rgb, token, modelToken: token } : null,
      position: m.layer === 0 && patch >= 0 ? { embedding: vec(D), modelInput: vec(D) } : null,
      checks: { softmax: 3e-9, weightedSum: 4e-8, scores: 1e-7, concat: 0, projection: 3e-8, patch: m.layer === 0 && patch >= 0 ? 2e-7 : null, position: null },
      tensors: { q: 'q', k: 'k', v: 'v' }, shapes: {}, notes: [],
    };
  }

  const send = (msg) => window.postMessage(msg, '*');
  let state = null;
  let maskedId = 1;
  window.acquireVsCodeApi = () => ({
    postMessage(msg) {
      window.__posted.push(msg);
      if (msg.type === 'ready') {
        send({ type: 'progress', message: 'Running vit-synthetic.onnx on synthetic.png…' });
        setTimeout(() => send({ type: 'inspection', payload: payload || makePayload() }), num('delay', 0));
      } else if (msg.type === 'runMasked') {
        send({ type: 'progress', message: `Running with ${msg.maskedTokens.length} masked patches…` });
        const id = ++maskedId;
        window.__harnessStore.put(id, stored({ ...payload, predictions: predictions(true) }, maskedAttention(msg.maskedTokens), msg.maskedTokens));
        setTimeout(() => send({ type: 'maskResult', maskedTokens: msg.maskedTokens, predictions: predictions(true), inspection: id }), 200);
      } else if (msg.type === 'query') {
        // As the host: the answer carries the request id; the stand-in store answers exactly as the worker's does.
        window.__harnessStore.answer(msg.query).then((answer) => send({ type: 'answer', requestId: msg.requestId, inspection: msg.query.inspection, answer }),
          (e) => send({ type: 'error', message: String(e && e.message || e), action: 'retry' }));
      } else if (msg.type === 'needAnatomy' && payload && msg.id === payload.id) {
        setTimeout(() => send({ type: 'anatomy', id: msg.id, layer: msg.layer, head: msg.head, query: msg.query, anatomy: makeAnatomy(msg) }), 0);
      } else if (msg.type === 'command' && msg.command === 'retry') {
        send({ type: 'inspection', payload: payload || makePayload() });
      }
    },
    getState: () => state,
    setState: (s) => { state = s; window.__savedState = s; },
  });
  window.__harness = { send, makePayload, get payload() { return payload; } };
  if (params.has('view')) state = { view: params.get('view') };
})();
