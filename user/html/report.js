/* leaktop's HTML report: draws the data embedded in #leaktop-data (written by
 * user/output_html.c) as a heap chart, a table of the fastest-growing stacks
 * and an icicle graph of outstanding bytes.  Everything is built with DOM
 * calls and textContent: no string from the data is ever parsed as markup.
 * When done, <body data-status="ok" data-drawn-ms=...>; on any error,
 * data-status="error: ...". */
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var body = document.body;

  window.onerror = function (msg) {
    body.setAttribute('data-status', 'error: ' + msg);
  };

  function el(tag, attrs, text, parent) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function sv(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  /* The units of leaktop's text views (format.c). */
  function bytes(v) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], a = Math.abs(v), u = 0;
    while (a >= 1024 && u < 4) { a /= 1024; u++; }
    return (v < 0 ? '-' : '') + (u ? a.toFixed(1) : a.toFixed(0)) + ' ' + units[u];
  }
  function rate(v) { return bytes(Math.abs(v) < 0.5 ? 0 : v) + '/s'; }
  function count(v) { return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function seconds(v) {
    if (v < 120) return (v % 1 === 0 || v >= 10 ? v.toFixed(0) : v.toFixed(1)) + ' s';
    if (v < 7200) return (v / 60).toFixed(1) + ' min';
    return (v / 3600).toFixed(1) + ' h';
  }

  var data = JSON.parse(document.getElementById('leaktop-data').textContent);
  var frames = data.frames;

  /* Frames that name the same place (kind, label, object) are one node of
   * the icicle, whatever their addresses. */
  var canon = [], byKey = new Map();
  frames.forEach(function (f, i) {
    var key = f.kind + '\u0000' + f.label + '\u0000' + (f.object || '');
    if (!byKey.has(key)) byKey.set(key, i);
    canon.push(byKey.get(key));
  });

  function frameColor(f, name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    if (!f) return 'hsl(220, 10%, 62%)';
    if (!f.function) return 'hsl(0, 0%, ' + (68 + h % 10) + '%)';
    if (f.kind === 'python') return 'hsl(' + (190 + h % 40) + ', 58%, ' + (58 + h % 12) + '%)';
    return 'hsl(' + (12 + h % 36) + ', 82%, ' + (58 + h % 12) + '%)';
  }

  var tip = el('div', { id: 'tip' }, null, body);
  function showTip(ev, lines) {
    tip.textContent = '';
    lines.forEach(function (l, i) {
      var d = el('div', {}, null, tip);
      if (i === 0) el('b', {}, l, d); else d.textContent = l;
    });
    tip.style.display = 'block';
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) x = Math.max(0, ev.clientX - tip.offsetWidth - 14);
    if (y + tip.offsetHeight > window.innerHeight) y = Math.max(0, ev.clientY - tip.offsetHeight - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }

  function where(f) {
    var parts = [];
    if (f.file) parts.push(f.file + (f.line ? ':' + f.line : ''));
    if (f.object) parts.push(f.object);
    return parts.join('  ');
  }

  /* --- header ------------------------------------------------------------ */
  function header() {
    document.title = 'leaktop: ' + (data.comm || '?') + ' (PID ' + data.pid + ')';
    el('h1', {}, 'leaktop: ' + (data.comm || '?') + ' (PID ' + data.pid + ')', body);
    el('div', { class: 'meta' }, 'Written ' + new Date(data.time * 1000).toLocaleString() +
       ' after ' + seconds(data.elapsed_s) + ' of tracing, every ' + data.interval_s + ' s; ' +
       data.leaktop, body);
    if (data.sample_bytes)
      el('div', { class: 'note' }, 'Sampled (one allocation per ' + count(data.sample_bytes) +
         ' bytes on average): the figures are estimates.', body);
    if (data.duty_cycle)
      el('div', { class: 'note' }, 'Duty cycle: the probes were on ' + (data.duty_cycle * 100).toFixed(0) +
         '% of the time; the figures are scaled estimates.', body);
    if (data.lost_events)
      el('div', { class: 'note' }, count(data.lost_events) + ' events could not be tracked: the figures undercount.', body);
    var cards = el('div', { class: 'cards', id: 'summary' }, null, body);
    [['outstanding', bytes(data.outstanding_bytes), data.outstanding_bytes],
     ['allocations outstanding', count(data.outstanding_allocs), data.outstanding_allocs],
     ['growth', rate(data.growth_bytes_per_s), data.growth_bytes_per_s],
     ['stacks holding memory', count(data.stacks_held), data.stacks_held],
     ['lost events', count(data.lost_events), data.lost_events]].forEach(function (c) {
      var d = el('div', { class: 'card', 'data-key': c[0], 'data-value': c[2] }, null, cards);
      el('div', { class: 'v' }, c[1], d);
      el('div', { class: 'k' }, c[0], d);
    });
  }

  /* --- the heap over the session ---------------------------------------- */
  function niceStep(range, n) {
    var raw = range / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function chart() {
    var h = data.history, n = h.bytes.length;
    el('h2', {}, 'Heap over the session', body);
    el('p', { class: 'hint' }, 'Total outstanding bytes at each interval' +
       (h.intervals_per_point > 1 ? ' (each point: ' + h.intervals_per_point +
        ' intervals, its last value; the band spans their least and most)' : '') + '.', body);
    var W = Math.max(480, Math.min(body.clientWidth - 48, 1400)), H = 240;
    var L = 78, R = 16, T = 10, B = 28, w = W - L - R, hh = H - T - B;
    var svg = sv('svg', { class: 'chart', id: 'heap-chart', width: W, height: H,
                          viewBox: '0 0 ' + W + ' ' + H, 'data-points': n,
                          'data-intervals-per-point': h.intervals_per_point }, body);
    var t0 = 0, t1 = n ? h.elapsed_s[n - 1] : 1, top = 0;
    for (var i = 0; i < n; i++) top = Math.max(top, h.max_bytes[i]);
    if (t1 <= t0) t1 = t0 + 1;
    var unit = Math.pow(1024, Math.max(0, Math.floor(Math.log((top || 1)) / Math.log(1024))));
    var ystep = niceStep((top || 1) / unit, 4) * unit; /* round in the unit shown */
    top = Math.max(ystep, Math.ceil((top || 1) / ystep) * ystep);
    function X(t) { return L + (t - t0) / (t1 - t0) * w; }
    function Y(b) { return T + hh - b / top * hh; }
    for (var y = 0; y <= top + 1e-9; y += ystep) {
      sv('line', { class: 'grid', x1: L, x2: L + w, y1: Y(y), y2: Y(y) }, svg);
      sv('text', { x: L - 6, y: Y(y) + 4, 'text-anchor': 'end' }, svg).textContent = bytes(y);
    }
    var xstep = niceStep(t1 - t0, 8);
    for (var x = 0; x <= t1 + 1e-9; x += xstep)
      sv('text', { x: X(x), y: H - 8, 'text-anchor': 'middle' }, svg).textContent = seconds(x);
    sv('line', { class: 'axis', x1: L, x2: L + w, y1: T + hh, y2: T + hh }, svg);
    sv('line', { class: 'axis', x1: L, x2: L, y1: T, y2: T + hh }, svg);
    if (h.intervals_per_point > 1) {
      var band = [];
      for (i = 0; i < n; i++) band.push(X(h.elapsed_s[i]) + ',' + Y(h.max_bytes[i]));
      for (i = n - 1; i >= 0; i--) band.push(X(h.elapsed_s[i]) + ',' + Y(h.min_bytes[i]));
      sv('polygon', { class: 'band', points: band.join(' ') }, svg);
    }
    var pts = [];
    for (i = 0; i < n; i++) pts.push(X(h.elapsed_s[i]) + ',' + Y(h.bytes[i]));
    sv('polyline', { class: 'line', points: pts.join(' ') }, svg);
    var dots = sv('g', { class: 'points' }, svg);
    for (i = 0; i < n; i++)
      sv('circle', { class: 'pt', cx: X(h.elapsed_s[i]), cy: Y(h.bytes[i]), r: n > 200 ? 0.8 : 2.2,
                     'data-elapsed-s': h.elapsed_s[i], 'data-bytes': h.bytes[i] }, dots);
    var cursor = sv('line', { class: 'cursor', y1: T, y2: T + hh, visibility: 'hidden' }, svg);
    svg.addEventListener('mousemove', function (ev) {
      if (!n) return;
      var r = svg.getBoundingClientRect(), t = t0 + (ev.clientX - r.left - L) / w * (t1 - t0), best = 0;
      for (var j = 1; j < n; j++)
        if (Math.abs(h.elapsed_s[j] - t) < Math.abs(h.elapsed_s[best] - t)) best = j;
      cursor.setAttribute('x1', X(h.elapsed_s[best]));
      cursor.setAttribute('x2', X(h.elapsed_s[best]));
      cursor.setAttribute('visibility', 'visible');
      var lines = [bytes(h.bytes[best]) + ' outstanding', 'at ' + seconds(h.elapsed_s[best])];
      if (h.intervals_per_point > 1)
        lines.push('least ' + bytes(h.min_bytes[best]) + ', most ' + bytes(h.max_bytes[best]));
      showTip(ev, lines);
    });
    svg.addEventListener('mouseleave', function () { cursor.setAttribute('visibility', 'hidden'); hideTip(); });
  }

  /* --- the fastest-growing stacks --------------------------------------- */
  function label(f) { return f ? f.label : '[no frames]'; }

  function frameList(s, parent) {
    var ol = el('ol', { class: 'frames', start: 0 }, null, parent);
    s.frames.forEach(function (fi) {
      var f = frames[fi], li = el('li', {}, null, ol);
      el('span', { class: 'kind ' + f.kind }, f.kind, li);
      li.appendChild(document.createTextNode(label(f) + '  '));
      el('span', { class: 'obj' }, f.object || '', li);
    });
  }

  function sparkline(values, parent) {
    var W = 120, H = 24, svg = sv('svg', { class: 'spark', width: W, height: H,
                                          'data-values': values.join(',') }, parent);
    if (values.length < 2) return;
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values), pts = [];
    values.forEach(function (v, i) {
      var y = hi > lo ? H - 3 - (v - lo) / (hi - lo) * (H - 6) : H / 2;
      pts.push((2 + i / (values.length - 1) * (W - 4)).toFixed(1) + ',' + y.toFixed(1));
    });
    sv('polyline', { points: pts.join(' ') }, svg);
  }

  function table() {
    var rows = data.stacks.slice(0, data.table_rows);
    el('h2', {}, 'Fastest-growing stacks', body);
    el('p', { class: 'hint' }, 'The ' + rows.length + ' stacks whose outstanding bytes grow fastest ' +
       '(least-squares slope over the growth window); the trend is their outstanding bytes at ' +
       'each interval of that window. Click a row for the whole stack.', body);
    var t = el('table', { id: 'top-stacks' }, null, body), head = el('tr', {}, null, el('thead', {}, null, t));
    [['#', 'num'], ['growth', 'num'], ['outstanding', 'num'], ['allocations', 'num'], ['trend', ''],
     ['where', '']].forEach(function (c) { el('th', { class: c[1] }, c[0], head); });
    var tb = el('tbody', {}, null, t);
    rows.forEach(function (s, i) {
      var tr = el('tr', { class: 'row' + (s.growth_bytes_per_s >= 0.5 ? ' grows' : ''), 'data-id': s.id,
                          'data-bytes': s.outstanding_bytes, 'data-allocs': s.outstanding_allocs,
                          'data-growth': s.growth_bytes_per_s }, null, tb);
      el('td', { class: 'num' }, i + 1, tr);
      el('td', { class: 'num growth' }, rate(s.growth_bytes_per_s), tr);
      el('td', { class: 'num' }, bytes(s.outstanding_bytes), tr);
      el('td', { class: 'num' }, count(s.outstanding_allocs), tr);
      sparkline(data.trends[i] || [], el('td', {}, null, tr));
      var top = s.top === null ? null : frames[s.frames[s.top]];
      el('td', { class: 'where' }, label(top), tr);
      var detail = null;
      tr.addEventListener('click', function () {
        if (detail) { detail.remove(); detail = null; return; }
        detail = el('tr', { class: 'detail' });
        frameList(s, el('td', { colspan: 6 }, null, detail));
        tr.after(detail);
      });
    });
  }

  /* --- icicle of outstanding bytes ------------------------------------- */
  var nextNode = 0;
  function node(frame, parent) {
    return { id: nextNode++, frame: frame, parent: parent, bytes: 0, allocs: 0, growth: 0,
             children: new Map(), sorted: null, depth: parent ? parent.depth + 1 : 0 };
  }

  function buildTree() {
    var root = node(-1, null);
    data.stacks.forEach(function (s) {
      if (s.outstanding_bytes <= 0) return;
      var n = root;
      add(n, s);
      for (var i = s.frames.length - 1; i >= 0; i--) {
        var key = canon[s.frames[i]], c = n.children.get(key);
        if (!c) { c = node(key, n); n.children.set(key, c); }
        add(c, s);
        n = c;
      }
    });
    function add(n, s) {
      n.bytes += s.outstanding_bytes;
      n.allocs += s.outstanding_allocs;
      n.growth += s.growth_bytes_per_s;
    }
    return root;
  }

  function children(n) {
    if (!n.sorted) {
      n.sorted = Array.from(n.children.values());
      n.sorted.sort(function (a, b) { return b.bytes - a.bytes || a.id - b.id; });
    }
    return n.sorted;
  }

  function icicle() {
    var root = buildTree(), zoom = root, total = root.bytes;
    var ROW = 18, MIN_PX = 1, CHAR_PX = 6.7;
    el('h2', {}, 'Outstanding bytes by stack', body);
    el('p', { class: 'hint' }, 'Icicle graph: outermost frames on top, the allocator at the bottom; ' +
       'a frame\'s width is the bytes outstanding under it. Hover for figures, click to zoom ' +
       '(click a frame above, or "all", to zoom out). Frames narrower than ' + MIN_PX + ' px are left out.', body);
    var legend = el('div', { class: 'legend' }, null, body);
    [['Python', frameColor({ kind: 'python', function: 'x' }, '')],
     ['native', frameColor({ kind: 'native', function: 'x' }, '')],
     ['unknown', frameColor({ kind: 'native', function: null }, '')]].forEach(function (l) {
      var s = el('span', {}, null, legend);
      el('i', { style: 'background:' + l[1] }, null, s);
      s.appendChild(document.createTextNode(l[0]));
    });
    var W = Math.max(480, Math.min(body.clientWidth - 48, 1800));
    var svg = sv('svg', { class: 'icicle', id: 'icicle', width: W, height: ROW, 'data-width': W,
                          'data-total-bytes': total }, body);
    svg.addEventListener('mouseleave', hideTip);

    function name(n) { return n.frame < 0 ? 'all' : label(frames[n.frame]); }

    function draw(n, x, w, above) {
      var f = n.frame < 0 ? null : frames[n.frame], nm = name(n);
      var g = sv('g', { class: 'frame' + (above ? ' above' : ''), 'data-node': n.id,
                        'data-parent': n.parent ? n.parent.id : '', 'data-depth': n.depth,
                        'data-frame': n.frame < 0 ? '' : n.frame, 'data-kind': f ? f.kind : 'root',
                        'data-bytes': n.bytes, 'data-allocs': n.allocs, 'data-growth': n.growth }, svg);
      sv('rect', { x: x.toFixed(2), y: n.depth * ROW, width: Math.max(0, w - 0.5).toFixed(2), height: ROW - 1,
                   fill: frameColor(f, nm) }, g);
      var fit = Math.floor((w - 6) / CHAR_PX);
      if (fit >= 3) {
        var text = n.frame < 0 ? 'all: ' + bytes(n.bytes) : nm;
        sv('text', { x: (x + 3).toFixed(2), y: n.depth * ROW + 13 }, g).textContent =
          text.length > fit ? text.slice(0, fit - 1) + '\u2026' : text;
      }
      g.addEventListener('mousemove', function (ev) {
        var lines = [n.frame < 0 ? 'all stacks' : nm];
        if (f) lines.push(f.kind + ' frame  ' + where(f));
        lines.push(bytes(n.bytes) + ' outstanding (' + (total ? (n.bytes / total * 100).toFixed(1) : '0') + '%)');
        lines.push(count(n.allocs) + ' allocations outstanding');
        lines.push('growth ' + rate(n.growth));
        showTip(ev, lines);
      });
      g.addEventListener('click', function () { zoom = n; render(); });
      return g;
    }

    function render() {
      hideTip();
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      var depth = 0;
      for (var a = zoom.parent; a; a = a.parent) draw(a, 0, W, true);
      var todo = [[zoom, 0, W]];
      while (todo.length) {
        var item = todo.pop(), n = item[0], x = item[1], w = item[2];
        draw(n, x, w, false);
        depth = Math.max(depth, n.depth);
        var cx = x;
        children(n).forEach(function (c) {
          var cw = n.bytes ? c.bytes / n.bytes * w : 0;
          if (cw >= MIN_PX) todo.push([c, cx, cw]);
          cx += cw;
        });
      }
      svg.setAttribute('height', (depth + 1) * ROW);
      svg.setAttribute('data-zoom', zoom.id);
    }
    render();
  }

  try {
    header();
    chart();
    table();
    icicle();
    /* Since the navigation began: reading, parsing and drawing (bench/html_load.sh). */
    body.setAttribute('data-drawn-ms', performance.now().toFixed(1));
    if (!body.hasAttribute('data-status')) body.setAttribute('data-status', 'ok');
  } catch (e) {
    body.setAttribute('data-status', 'error: ' + e);
    el('p', { id: 'error' }, 'This report could not be drawn: ' + e, body);
  }
})();
