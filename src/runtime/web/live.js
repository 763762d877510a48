// The msgflo runtime's live view: a client of the runtime's own FBP protocol
// over WebSocket (docs/msgflo.md#live-view). It reads the main graph
// (component:getsource), follows its changes (graph:* events), asks the
// system's state once a second (msgflo:getstatus: node states, edge counts)
// and asks for payloads only of the edge it shows (network:edges selects it,
// so network:data comes for that edge alone, to this page alone; an empty
// selection while none is shown or the page is hidden). Drawing work happens
// once per status reply and per graph change, never per message, so a
// thousand participants and busy edges stay cheap.
'use strict';
(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const RATE_WINDOW_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const view = {
    ws: null, secret: null, graph: null, nodes: new Map(), edges: new Map(),
    status: null, history: new Map(), latest: new Map(), selected: null,
    relayout: null, polling: null, waiting: false, permitted: false,
    watching: null, selections: 0, dataMessages: 0,
  };
  window.msgfloLiveView = view; // for tests and the curious

  const edgeKey = (sn, sp, tn, tp) => `${sn}\u001f${sp}\u001f${tn}\u001f${tp}`;

  function readSecret() {
    const m = /(?:^|[#&])secret=([^&]*)/.exec(location.hash);
    if (m) {
      const s = decodeURIComponent(m[1]);
      try { sessionStorage.setItem('msgflo-secret', s); } catch (e) { /* private mode */ }
      history.replaceState(null, '', location.pathname + location.search); // off the address bar
      return s;
    }
    try { return sessionStorage.getItem('msgflo-secret'); } catch (e) { return null; }
  }

  function setConn(text, cls) {
    const c = $('conn');
    c.textContent = text;
    c.className = `conn ${cls || ''}`;
  }

  function send(protocol, command, payload) {
    if (!view.ws || view.ws.readyState !== 1) return;
    const msg = { protocol, command, payload: Object.assign({}, payload || {}) };
    if (view.secret) {
      msg.secret = view.secret;
      msg.payload.secret = view.secret;
    }
    view.ws.send(JSON.stringify(msg));
  }

  function askSecret(refused) {
    $('secret_form').hidden = false;
    $('refused').hidden = !refused;
    if (refused) setConn('refused', 'down');
    $('secret').focus();
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`, 'noflo');
    view.ws = ws;
    view.permitted = false;
    setConn('connecting');
    ws.onopen = () => send('runtime', 'getruntime');
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      handle(m);
    };
    ws.onclose = () => {
      clearInterval(view.polling);
      view.polling = null;
      view.waiting = false;
      if (view.ws !== ws) return;
      // Waiting for the secret (the runtime closes a client that sends no
      // permitted command within 10 s): the form's submit connects again.
      if (!$('secret_form').hidden) return;
      setConn('disconnected: retrying', 'down');
      setTimeout(connect, 2000);
    };
  }

  function handle(m) {
    const p = m.payload || {};
    const what = `${m.protocol}:${m.command}`;
    if (m.command === 'error' && /not permitted/.test(p.message || '')) {
      askSecret(true);
      return;
    }
    switch (what) {
      case 'runtime:runtime':
        if ((p.capabilities || []).length === 0 && (p.allCapabilities || []).length > 0) {
          askSecret(Boolean(view.secret));
          if (!view.secret) setConn('needs the secret', 'down');
          return;
        }
        view.permitted = true;
        flowhubLink();
        $('secret_form').hidden = true;
        $('refused').hidden = true;
        setConn('live', 'live');
        view.graphId = p.graph || 'default/main';
        view.watching = undefined; // what the runtime has for this connection: nothing yet
        watchSelected();
        fetchGraph();
        pollStatus();
        clearInterval(view.polling);
        view.polling = setInterval(pollStatus, 1000);
        return;
      case 'component:source':
        if (p.language === 'json' && `${p.library}/${p.name}` === view.graphId) {
          try { setGraph(JSON.parse(p.code)); } catch (e) { /* keep the last */ }
        }
        return;
      case 'msgflo:status':
        view.waiting = false;
        applyStatus(p);
        return;
      case 'network:data':
        view.dataMessages++;
        if (p.src && p.tgt) {
          const key = edgeKey(p.src.node, p.src.port, p.tgt.node, p.tgt.port);
          view.latest.set(key, p.data);
          // drawn at most five times a second, however fast the edge goes
          if (view.selected && view.selected.edge === key && !view.payloadTimer) {
            view.payloadTimer = setTimeout(() => { view.payloadTimer = null; showPayload(); }, 200);
          }
        }
        return;
      case 'network:edges':
        view.selections++; // acknowledged: from here on, data of that selection only
        return;
      case 'network:processerror':
        if (p.id) {
          const n = view.nodes.get(p.id);
          if (n) n.error = p.error;
        }
        return;
      case 'graph:clear': case 'graph:addnode': case 'graph:removenode': case 'graph:renamenode':
      case 'graph:changenode': case 'graph:addedge': case 'graph:removeedge': case 'graph:changeedge':
        scheduleRefetch();
        return;
      default:
    }
  }

  // The served link has no secret (anyone reaching the port can read the
  // page): once the runtime took ours, the link carries it, as printed.
  function flowhubLink() {
    const a = $('flowhub_url');
    if (!a.dataset.base) a.dataset.base = a.getAttribute('href');
    a.setAttribute('href', view.secret ? a.dataset.base + encodeURIComponent(`&secret=${view.secret}`) : a.dataset.base);
  }

  // network:edges: the runtime sends this page the data of the edge shown
  // (none while no edge is shown or the page is hidden). Sent when that
  // changes, and on every (re)connection.
  function watchSelected() {
    const v = view.selected && view.selected.edge && !document.hidden ? view.edges.get(view.selected.edge) : null;
    const key = v ? v.key : null;
    if (!view.permitted || key === view.watching) return;
    view.watching = key;
    view.latest.clear(); // payloads shown come from this selection
    send('network', 'edges', {
      graph: view.graphId,
      edges: v ? [{ src: { node: v.src.process, port: v.src.port }, tgt: { node: v.tgt.process, port: v.tgt.port } }] : [],
    });
  }
  document.addEventListener('visibilitychange', watchSelected);

  function fetchGraph() { send('component', 'getsource', { name: view.graphId }); }

  // Changes coming in bursts (a thousand participants announcing) are drawn
  // together: a new layout at most every twice the time the last one took.
  function scheduleRefetch() {
    if (view.refetch) return;
    const wait = Math.max(100, 2 * (view.layoutMs || 0));
    view.refetch = setTimeout(() => { view.refetch = null; fetchGraph(); }, wait);
  }

  function pollStatus() {
    if (view.waiting) return; // one request at a time: a slow runtime is not flooded
    if (document.hidden) return; // nobody looks: no status of a thousand nodes a second
    view.waiting = true;
    send('msgflo', 'getstatus', { graph: view.graphId });
  }

  // ---- drawing ----

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function setGraph(graph) {
    const started = performance.now();
    view.graph = graph;
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 70, edgesep: 12, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(() => ({}));
    const procs = graph.processes || {};
    for (const id of Object.keys(procs)) {
      // room for the role, the component and "restarting · pid 12345 · 10 restarts"
      const width = Math.max(id.length * 7.5, (procs[id].component || '').length * 6.2, 190);
      g.setNode(id, { width: 20 + width, height: 54 });
    }
    const conns = (graph.connections || []).filter((c) => c.src && procs[c.src.process] && procs[c.tgt.process]);
    for (const c of conns) {
      const key = edgeKey(c.src.process, c.src.port, c.tgt.process, c.tgt.port);
      g.setEdge(c.src.process, c.tgt.process, { width: 60, height: 14, labelpos: 'c' }, key);
    }
    dagre.layout(g);
    const size = g.graph();
    const svg = el('svg', { width: Math.max(size.width, 200), height: Math.max(size.height, 100) });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#78909c' }, marker);
    const edgeLayer = el('g', {}, svg);
    const nodeLayer = el('g', {}, svg);
    const old = view.nodes;
    view.nodes = new Map();
    view.edges = new Map();
    for (const c of conns) {
      const key = edgeKey(c.src.process, c.src.port, c.tgt.process, c.tgt.port);
      const e = g.edge({ v: c.src.process, w: c.tgt.process, name: key });
      const d = e.points.map((pt, i) => `${i ? 'L' : 'M'}${pt.x.toFixed(1)},${pt.y.toFixed(1)}`).join(' ');
      const grp = el('g', { class: 'edge unbound', 'data-id': key }, edgeLayer);
      el('path', { d }, grp);
      el('path', { d, class: 'hit' }, grp);
      const text = el('text', { x: e.x, y: e.y - 4, 'text-anchor': 'middle', class: 'rate' }, grp);
      text.textContent = '';
      el('title', {}, grp).textContent = `${c.src.process}.${c.src.port} → ${c.tgt.process}.${c.tgt.port}`;
      grp.addEventListener('click', () => select({ edge: key }));
      view.edges.set(key, { key, el: grp, text, src: c.src, tgt: c.tgt, shown: '', cls: '' });
    }
    for (const id of Object.keys(procs)) {
      const n = g.node(id);
      const grp = el('g', { class: 'node expected', 'data-id': id, transform: `translate(${(n.x - n.width / 2).toFixed(1)},${(n.y - n.height / 2).toFixed(1)})` }, nodeLayer);
      el('rect', { width: n.width, height: n.height }, grp);
      const role = el('text', { x: 10, y: 17, class: 'role' }, grp);
      role.textContent = id;
      const comp = el('text', { x: 10, y: 31, class: 'detail' }, grp);
      comp.textContent = procs[id].component || '';
      const detail = el('text', { x: 10, y: 46, class: 'detail state' }, grp);
      grp.addEventListener('click', () => select({ node: id }));
      const prev = old.get(id);
      view.nodes.set(id, { id, el: grp, detail, component: procs[id].component, shown: '', cls: '', error: prev && prev.error });
    }
    const holder = $('graph');
    holder.replaceChildren(svg);
    $('summary').textContent = `${view.nodes.size} nodes, ${view.edges.size} edges`;
    view.layoutMs = performance.now() - started;
    watchSelected(); // the edge shown may be gone
    if (view.status) applyStatus(view.status);
  }

  function fmtRate(r) { return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2); }

  function applyStatus(st) {
    view.status = st;
    const now = performance.now();
    const nodes = st.nodes || {};
    let missing = false;
    for (const [id, n] of view.nodes) {
      const s = nodes[id];
      if (!s) { missing = true; continue; }
      const cls = `node ${s.state}${view.selected && view.selected.node === id ? ' selected' : ''}`;
      if (cls !== n.cls) { n.el.setAttribute('class', cls); n.cls = cls; }
      let text = s.state;
      if (s.pid) text += ` · pid ${s.pid}`;
      if (s.restarts) text += ` · ${s.restarts} restart${s.restarts === 1 ? '' : 's'}`;
      if (text !== n.shown) { n.detail.textContent = text; n.shown = text; }
    }
    for (const id of Object.keys(nodes)) if (!view.nodes.has(id)) missing = true;
    for (const e of st.edges || []) {
      const key = edgeKey(e.src.node, e.src.port, e.tgt.node, e.tgt.port);
      const v = view.edges.get(key);
      if (!v) { missing = true; continue; }
      let h = view.history.get(key);
      if (!h) view.history.set(key, h = []);
      h.push([now, e.messages]);
      while (h.length > 2 && now - h[1][0] >= RATE_WINDOW_MS) h.shift();
      const dt = (now - h[0][0]) / 1000;
      const rate = dt > 0 ? Math.max(0, e.messages - h[0][1]) / dt : 0;
      v.rate = rate;
      v.messages = e.messages;
      v.bound = e.bound;
      const text = `${fmtRate(rate)}/s · ${e.messages}`;
      if (text !== v.shown) { v.text.textContent = text; v.shown = text; }
      const cls = `edge${e.bound ? '' : ' unbound'}${rate > 0 ? ' flowing' : ''}${view.selected && view.selected.edge === key ? ' selected' : ''}`;
      if (cls !== v.cls) { v.el.setAttribute('class', cls); v.cls = cls; }
    }
    const c = st.counters || {};
    $('summary').textContent = `${view.nodes.size} nodes, ${view.edges.size} edges · ${c.participants || 0} participants, ${c.processes || 0} processes started · broker ${c.connected ? 'connected' : 'not connected'}`;
    if (missing) scheduleRefetch(); // the graph changed under us
    if (view.selected) showSelected();
  }

  function select(what) {
    view.selected = what;
    watchSelected();
    showSelected();
    if (view.status) applyStatus(view.status);
  }

  function row(dl, k, v) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }

  function showSelected() {
    const dl = $('side_info');
    dl.replaceChildren();
    const sel = view.selected;
    const pre = $('payload');
    pre.textContent = '';
    if (sel.node) {
      $('side_title').textContent = sel.node;
      const n = view.nodes.get(sel.node) || {};
      const s = ((view.status || {}).nodes || {})[sel.node] || {};
      row(dl, 'component', n.component || '');
      row(dl, 'state', s.state || '?');
      row(dl, 'started by', s.ours ? 'this runtime' : 'elsewhere');
      if (s.pid) row(dl, 'pid', s.pid);
      row(dl, 'instances', s.instances || 0);
      row(dl, 'last seen', s.lastSeen === undefined ? 'never' : `${s.lastSeen.toFixed(1)} s ago`);
      row(dl, 'restarts', s.restarts || 0);
      if (n.error) pre.textContent = n.error;
    } else if (sel.edge) {
      const v = view.edges.get(sel.edge);
      if (!v) return;
      $('side_title').textContent = `${v.src.process}.${v.src.port} → ${v.tgt.process}.${v.tgt.port}`;
      row(dl, 'bound', v.bound ? 'yes' : 'not yet');
      row(dl, 'messages', v.messages || 0);
      row(dl, 'rate', `${fmtRate(v.rate || 0)}/s`);
      showPayload();
    }
  }

  function showPayload() {
    const key = view.selected && view.selected.edge;
    if (!key) return;
    const text = view.latest.has(key)
      ? JSON.stringify(view.latest.get(key), null, 2) : '(waiting for the next message)';
    const pre = $('payload');
    if (pre.textContent !== text) pre.textContent = text;
  }

  $('secret_form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    view.secret = $('secret').value;
    try { sessionStorage.setItem('msgflo-secret', view.secret); } catch (e) { /* private mode */ }
    $('refused').hidden = true;
    $('secret_form').hidden = true;
    const old = view.ws;
    view.ws = null;
    if (old) old.close();
    connect();
  });

  view.secret = readSecret();
  connect();
}());
