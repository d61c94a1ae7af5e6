// Mechanist reports: draws the feature dashboards embedded in the page as JSON (#mechanist-data).
// Every string from the data is put on the page with textContent, never as markup.
(function () {
  "use strict";
  var dataElement = document.getElementById("mechanist-data");
  if (!dataElement) {
    document.documentElement.setAttribute("data-ready", "true");
    return;
  }
  var data = JSON.parse(dataElement.textContent);
  var dashboards = data.dashboards || [];
  var byAnchor = {};

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function num(v, digits) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "string") return v;
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
    return Number(v.toPrecision(digits || 3)).toString();
  }
  function percent(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "0%";
    return (v * 100 < 0.01 ? (v * 100).toExponential(1) : Number((v * 100).toPrecision(3)).toString()) + "%";
  }
  function anchor(d, i) { return d.key ? "feature-" + d.slug + "-" + i : "feature-" + i; }
  function density(f) { return f.fr === null || f.fr === undefined ? null : f.fr > 0 ? Math.log10(f.fr) : -Infinity; }

  function tokenLabel(d, t) {
    var entry = d.tokens[t];
    var text = entry[1];
    if (text === null || text === undefined) return "#" + entry[0];
    return text.replace(/\n/g, "↵").replace(/\t/g, "⇥");
  }

  function severityBadge(sev) { return el("span", "sev sev-" + sev, sev); }

  function findingList(findings) {
    var list = el("ul", "findings");
    findings.forEach(function (f) {
      var li = el("li", "finding sev-" + f.sev);
      li.appendChild(severityBadge(f.sev));
      var id = el("a", "check-id", f.id);
      if (f.help) id.href = f.help;
      li.appendChild(id);
      if (f.base) li.appendChild(el("span", "baseline", f.base));
      li.appendChild(el("span", "message", f.msg));
      list.appendChild(li);
    });
    return list;
  }

  // An example: the activation and the window of tokens, each shaded by the feature's activation on it.
  function exampleRow(d, f, ex) {
    var row = el("div", "example");
    row.appendChild(el("span", "act", num(ex.a)));
    var text = el("span", "tokens");
    if (ex.t) {
      var max = f.mx > 0 ? f.mx : 1;
      ex.t.forEach(function (t, k) {
        var v = ex.v ? ex.v[k] : 0;
        var span = el("span", "tok" + (k === ex.fo ? " focus" : ""), tokenLabel(d, t));
        var alpha = Math.max(0, Math.min(1, v / max));
        if (v > 0) span.style.backgroundColor = "rgba(255, 120, 0, " + (0.12 + 0.78 * alpha).toFixed(3) + ")";
        span.dataset.activation = String(v);
        span.title = "token " + JSON.stringify(d.tokens[t][1] === null ? "#" + d.tokens[t][0] : d.tokens[t][1]) +
          " (id " + d.tokens[t][0] + "): activation " + num(v, 4);
        text.appendChild(span);
      });
      row.appendChild(text);
      row.appendChild(el("span", "where", "seq " + ex.seq + ", pos " + ex.pos));
    } else {
      text.appendChild(el("span", "row-only", "row " + ex.r));
      row.appendChild(text);
    }
    return row;
  }

  function histogram(f) {
    var counts = f.h, w = 320, h = 104, pad = 18, head = 14;
    var svg = svgEl("svg", { viewBox: "0 0 " + w + " " + (h + pad), width: w, height: h + pad, role: "img", class: "histogram" });
    var title = svgEl("title", {});
    title.textContent = "activation histogram: positive activations in " + counts.length + " bins on (0, " + num(f.mx) + "]";
    svg.appendChild(title);
    var top = Math.max.apply(null, counts.concat([1]));
    var bw = w / counts.length;
    counts.forEach(function (c, i) {
      if (c === 0) return;
      var bh = Math.max(1, (h - head) * c / top);
      svg.appendChild(svgEl("rect", { x: (i * bw + 0.5).toFixed(1), y: (h - bh).toFixed(1), width: (bw - 1).toFixed(1), height: bh.toFixed(1), class: "bar" }));
    });
    svg.appendChild(svgEl("line", { x1: 0, y1: h, x2: w, y2: h, class: "axis" }));
    var lo = svgEl("text", { x: 0, y: h + 13, class: "tick" }); lo.textContent = "0";
    var hi = svgEl("text", { x: w, y: h + 13, class: "tick", "text-anchor": "end" }); hi.textContent = num(f.mx);
    var mid = svgEl("text", { x: w / 2, y: h + 13, class: "tick", "text-anchor": "middle" }); mid.textContent = "activation";
    var peak = svgEl("text", { x: 2, y: 10, class: "tick" }); peak.textContent = top + " rows";
    [lo, hi, mid, peak].forEach(function (t) { svg.appendChild(t); });
    return svg;
  }

  function effectsList(d, items, kind) {
    var box = el("div", "effects " + kind);
    box.appendChild(el("h4", null, kind === "up" ? "promoted tokens" : "suppressed tokens"));
    var max = 0;
    items.forEach(function (it) { max = Math.max(max, Math.abs(it[1])); });
    var table = el("table", "effect-table");
    items.forEach(function (it) {
      var tr = el("tr");
      var tok = el("td", "tok-cell");
      tok.appendChild(el("span", "tok", tokenLabel(d, it[0])));
      tr.appendChild(tok);
      var barCell = el("td", "bar-cell");
      var bar = el("span", "effect-bar");
      bar.style.width = (max > 0 ? 100 * Math.abs(it[1]) / max : 0).toFixed(1) + "%";
      barCell.appendChild(bar);
      tr.appendChild(barCell);
      tr.appendChild(el("td", "num", num(it[1], 4)));
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  function section(title) {
    var s = el("section", "card-section");
    s.appendChild(el("h3", null, title));
    return s;
  }

  function renderCard(d, f, container) {
    container.textContent = "";
    var card = el("article", "card");
    card.id = anchor(d, f.i);
    card.setAttribute("data-feature", String(f.i));
    var head = el("header", "card-head");
    head.appendChild(el("h2", null, (d.key ? d.key + " · " : "") + "feature " + f.i));
    if (f.f && f.f.length) head.appendChild(el("span", "badge", f.f.length + (f.f.length === 1 ? " finding" : " findings")));
    card.appendChild(head);
    (f.s || []).forEach(function (s) { card.appendChild(el("p", "summary", s)); });

    var stats = el("dl", "stats");
    function stat(label, value) { stats.appendChild(el("dt", null, label)); stats.appendChild(el("dd", null, value)); }
    if (f.fr !== null && f.fr !== undefined) {
      stat("firing frequency", percent(f.fr) + (f.n !== undefined ? " (" + f.n + " of " + d.rows + " rows)" : ""));
      var dens = density(f);
      stat("log10 density", dens === -Infinity ? "never fired" : num(dens, 3));
      stat("max activation", num(f.mx, 4));
      stat("mean when active", num(f.mn, 4));
    }
    if (stats.childNodes.length) card.appendChild(stats);

    if (f.f && f.f.length) {
      var fs = section("Check findings");
      fs.appendChild(findingList(f.f));
      card.appendChild(fs);
    }
    if (f.h && f.n > 0) {
      var hs = section("Activation histogram");
      hs.appendChild(histogram(f));
      card.appendChild(hs);
    }
    if (f.top) {
      var ts = section("Top activations");
      if (f.top.length === 0) ts.appendChild(el("p", "gap", "The feature never fired on these rows: no examples."));
      f.top.forEach(function (ex) { ts.appendChild(exampleRow(d, f, ex)); });
      card.appendChild(ts);
    }
    if (f.q && f.q.length) {
      var qs = section("Quantile bands (random samples, highest band first)");
      f.q.slice().reverse().forEach(function (band) {
        var b = el("div", "band");
        b.appendChild(el("h4", null, "band " + (band.b + 1) + " of " + f.q.length + ": activation " + num(band.lo) + " – " + num(band.hi) + ", " + band.n + " rows"));
        if (!band.ex.length) b.appendChild(el("p", "gap", "no samples"));
        band.ex.forEach(function (ex) { b.appendChild(exampleRow(d, f, ex)); });
        qs.appendChild(b);
      });
      card.appendChild(qs);
    }
    if (f.oe) {
      var os = section("Output effects (direct path to the logits)");
      var pair = el("div", "effects-pair");
      pair.appendChild(effectsList(d, f.oe.up, "up"));
      pair.appendChild(effectsList(d, f.oe.down, "down"));
      os.appendChild(pair);
      if (f.oe.def) os.appendChild(el("p", "definition", f.oe.def));
      card.appendChild(os);
    }
    container.appendChild(card);
    return card;
  }

  function parseIds(q) {
    var ids = {}, any = false;
    q.split(",").forEach(function (part) {
      part = part.trim();
      if (!part) return;
      var m = /^(\d+)\s*-\s*(\d+)$/.exec(part);
      if (m) {
        for (var i = +m[1]; i <= +m[2] && i - +m[1] < 100000; i++) ids[i] = true;
        any = true;
      } else if (/^\d+$/.test(part)) { ids[+part] = true; any = true; }
    });
    return any ? ids : null;
  }

  var sorts = {
    "id": { label: "feature ID", key: function (f) { return f.i; }, dir: 1 },
    "frequency": { label: "frequency (most frequent first)", key: function (f) { return f.fr === undefined ? -1 : f.fr; }, dir: -1 },
    "density": { label: "density (sparsest first)", key: function (f) { var x = density(f); return x === null ? Infinity : x; }, dir: 1 },
    "max": { label: "max activation", key: function (f) { return f.mx === undefined ? -Infinity : f.mx; }, dir: -1 },
    "mean": { label: "mean activation when active", key: function (f) { return f.mn === undefined ? -Infinity : f.mn; }, dir: -1 },
    "findings": { label: "findings", key: function (f) { return f.f ? f.f.length : 0; }, dir: -1 }
  };

  function buildDashboard(d, host) {
    d.slug = host.getAttribute("data-slug") || "";
    var hasStats = d.features.some(function (f) { return f.fr !== undefined; });
    var hasFindings = d.features.some(function (f) { return f.f && f.f.length; });

    var toolbar = el("div", "toolbar");
    var search = el("input", "search");
    search.type = "search";
    search.placeholder = "feature ID (12, 3-9, 1,5,7) or text";
    search.setAttribute("aria-label", "search features by ID or text");
    var sort = el("select", "sort");
    sort.setAttribute("aria-label", "sort features");
    Object.keys(sorts).forEach(function (k) {
      if (!hasStats && k !== "id" && k !== "findings") return;
      if (!hasFindings && k === "findings") return;
      var o = el("option", null, "sort: " + sorts[k].label);
      o.value = k;
      sort.appendChild(o);
    });
    sort.value = hasFindings ? "findings" : hasStats ? "frequency" : "id";
    var count = el("span", "count");
    toolbar.appendChild(search);
    toolbar.appendChild(sort);
    toolbar.appendChild(count);

    var layout = el("div", "layout");
    var indexBox = el("div", "index");
    var table = el("table", "feature-index");
    var thead = el("thead");
    var hr = el("tr");
    ["feature", "frequency", "log10 density", "max act.", "findings", "summary"].forEach(function (h) { hr.appendChild(el("th", null, h)); });
    thead.appendChild(hr);
    table.appendChild(thead);
    var tbody = el("tbody");
    table.appendChild(tbody);
    indexBox.appendChild(table);
    var cardBox = el("div", "card-box");
    layout.appendChild(indexBox);
    layout.appendChild(cardBox);
    host.appendChild(toolbar);
    host.appendChild(layout);

    var rows = d.features.map(function (f) {
      var tr = el("tr", "feature-row");
      tr.setAttribute("data-feature", String(f.i));
      var link = el("a", null, String(f.i));
      link.href = "#" + anchor(d, f.i);
      var idCell = el("td", "num");
      idCell.appendChild(link);
      tr.appendChild(idCell);
      tr.appendChild(el("td", "num", percent(f.fr)));
      var dens = density(f);
      tr.appendChild(el("td", "num", dens === null ? "–" : dens === -Infinity ? "dead" : num(dens, 3)));
      tr.appendChild(el("td", "num", num(f.mx)));
      tr.appendChild(el("td", "num", f.f && f.f.length ? String(f.f.length) : ""));
      tr.appendChild(el("td", "summary-cell", (f.s && f.s.length) ? f.s.join(" · ") : ""));
      tr.addEventListener("click", function (e) {
        if (e.target.tagName !== "A") location.hash = anchor(d, f.i);
      });
      byAnchor[anchor(d, f.i)] = { d: d, f: f, row: tr, cardBox: cardBox, host: host };
      return { f: f, tr: tr, text: ((f.s || []).join(" ")).toLowerCase() };
    });

    function apply() {
      var q = search.value.trim();
      var ids = /^[\d\s,\-]+$/.test(q) ? parseIds(q) : null;
      var lone = /^\d+$/.test(q);
      var lower = q.toLowerCase();
      var s = sorts[sort.value];
      var sorted = rows.slice().sort(function (a, b) {
        var x = s.key(a.f), y = s.key(b.f);
        return x === y ? a.f.i - b.f.i : (x < y ? -s.dir : s.dir);
      });
      var shown = 0;
      sorted.forEach(function (r) {
        var match = q === "" ? true
          : lone ? String(r.f.i).indexOf(q) === 0
          : ids ? ids[r.f.i] === true
          : r.text.indexOf(lower) >= 0;
        r.tr.hidden = !match;
        if (match) shown++;
        tbody.appendChild(r.tr);
      });
      count.textContent = shown + " of " + rows.length + " features shown" + (d.dsae && d.dsae !== rows.length ? " (" + d.dsae + " in the decomposition)" : "");
    }
    search.addEventListener("input", apply);
    sort.addEventListener("change", apply);
    apply();
    return function first() {
      for (var i = 0; i < tbody.childNodes.length; i++) {
        var tr = tbody.childNodes[i];
        if (!tr.hidden) return anchor(d, +tr.getAttribute("data-feature"));
      }
      return null;
    };
  }

  var firsts = [];
  document.querySelectorAll(".dashboard[data-index]").forEach(function (host) {
    var d = dashboards[+host.getAttribute("data-index")];
    if (d) firsts.push(buildDashboard(d, host));
  });

  function show(name, scroll) {
    var target = byAnchor[name];
    if (!target) return false;
    var card = renderCard(target.d, target.f, target.cardBox);
    target.host.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    target.row.classList.add("selected");
    if (target.row.hidden) target.row.hidden = false;
    if (scroll) card.scrollIntoView({ block: "start" });
    return true;
  }

  window.addEventListener("hashchange", function () { show(decodeURIComponent(location.hash.slice(1)), true); });
  firsts.forEach(function (first) { var a = first(); if (a) show(a, false); });
  show(decodeURIComponent(location.hash.slice(1)), true);
  // Milliseconds from the start of navigation until the index and the first card were drawn.
  document.documentElement.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  document.documentElement.setAttribute("data-ready", "true");
})();
