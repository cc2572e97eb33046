/* netpolicy report: reads the JSON document of the page and draws the graph, the matrix and
 * the tables. Everything shown comes from netpolicy's engine: connections between groups of
 * endpoints (each group pair stands for every pair of their members), per-namespace-pair
 * aggregates, and the engine's rule table from which an explanation lists the rules of a pair.
 */
(function () {
  "use strict";
  var started = performance.now();
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var OUTSIDE = "(outside)";
  var WORKLOADS_SHOWN = 60; // an expanded namespace with more endpoints shows its groups first
  var START_EXPANDED = 150; // with fewer endpoints the page starts with every workload shown
  var PAIRS_LISTED = 200;
  var SUB_MATRIX = 40;
  var TABLE_ROWS = 500;
  var EDGES_DRAWN = 4000; // more edges than this are not drawn (the busiest first are)

  // ---- data ---------------------------------------------------------------------------------

  function decode(list) {
    var out = [];
    for (var i = 0; i < list.length; i++) {
      var v = list[i];
      if (v < 0) {
        for (var x = out[out.length - 1] + 1; x <= -v; x++) out.push(x);
      } else {
        out.push(v);
      }
    }
    return out;
  }

  var EP = D.endpoints;
  var E = EP.name.length;
  var K = D.namespaces.length;
  var X = D.explain;
  var groups = D.groups.map(function (g) { return decode(g.members); });
  var membersByNs = [];
  for (var k = 0; k < K; k++) membersByNs.push([]);
  for (var e = 0; e < E; e++) membersByNs[EP.ns[e]].push(e);
  var hostNetwork = new Set(EP.hostNetwork);
  var endpointByName = new Map();
  for (e = 0; e < E; e++) endpointByName.set(EP.name[e], e);

  var rowsBySrc = new Map();
  D.rows.forEach(function (row) { rowsBySrc.set(row[0], row[1]); });
  var decodedParts = new Map();
  function parts(src) {
    var found = decodedParts.get(src);
    if (found === undefined) {
      found = (rowsBySrc.get(src) || []).map(function (p) { return [p[0], decode(p[1])]; });
      decodedParts.set(src, found);
    }
    return found;
  }
  var pidMaps = new Map();
  /** The port-set id of what group gs may open to group gd, or -1. */
  function groupPorts(gs, gd) {
    var m = pidMaps.get(gs);
    if (m === undefined) {
      m = new Map();
      parts(gs).forEach(function (p) { p[1].forEach(function (d) { m.set(d, p[0]); }); });
      pidMaps.set(gs, m);
    }
    var pid = m.get(gd);
    return pid === undefined ? -1 : pid;
  }
  /** The port-set id of what endpoint a may open to endpoint b, or -1 (as connlist). */
  function portsBetween(a, b) {
    if (a === b) return -1;
    return groupPorts(EP.group[a], EP.group[b]);
  }

  // ---- explanations, from the engine's rule table --------------------------------------------

  var sets = new Map();
  function ruleSet(id) {
    var found = sets.get(id);
    if (found === undefined) {
      found = new Set(decode(X.sets[id]));
      sets.set(id, found);
    }
    return found;
  }
  var selecting = {};
  ["ingress", "egress"].forEach(function (direction) {
    var per = [];
    for (var c = 0; c < X.classes; c++) per.push([]);
    X.rules[direction].forEach(function (rule, r) {
      decode(X.sets[rule[2]]).forEach(function (c) { per[c].push(r); });
    });
    selecting[direction] = per;
  });
  function portsTowards(rule, destination) {
    if (rule[5] >= 0 && destination < X.classes) return X.named[rule[5]][destination];
    return rule[4];
  }

  function sideLines(direction, subject, other, subjectName, otherName) {
    var what = direction === "egress" ? "egress of" : "ingress of";
    if (subject >= X.classes) {
      return [what + " " + subjectName + ": outside the cluster, no NetworkPolicy applies"];
    }
    var policies = X.policyLists[X.isolating[direction][subject]];
    if (!policies.length) {
      return [what + " " + subjectName + ": not isolated (no NetworkPolicy selects it for " +
        direction + "), so everything is allowed"];
    }
    var lines = [what + " " + subjectName + ": isolated by " + policies.join(", ")];
    var destination = direction === "egress" ? other : subject;
    var matches = [];
    var misses = [];
    selecting[direction][subject].forEach(function (r) {
      var rule = X.rules[direction][r];
      var peerOk = ruleSet(rule[3]).has(other);
      var pid = portsTowards(rule, destination);
      var portOk = !D.portSets[pid].empty;
      if (peerOk && portOk) {
        matches.push("  allowed by " + rule[0] + " (" + rule[1] + "): " + D.portSets[pid].text);
      } else {
        var why = [];
        if (!peerOk) why.push("no peer of the rule matches " + otherName);
        if (!portOk) why.push("opens no port towards this destination");
        misses.push({ score: peerOk + portOk, id: rule[0],
          text: "    " + rule[0] + " (" + rule[1] + "): " + why.join("; ") });
      }
    });
    if (matches.length) return lines.concat(matches);
    if (!misses.length) {
      lines.push("  no rule: the selecting policies allow nothing in this direction");
      return lines;
    }
    misses.sort(function (x, y) { return y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0); });
    lines.push("  no rule matched; closest first:");
    misses.slice(0, 5).forEach(function (m) { lines.push(m.text); });
    return lines;
  }

  /** The explanation of the connection from endpoint a to endpoint b, as text. */
  function explain(a, b) {
    var A = EP.name[a];
    var B = EP.name[b];
    if (isOutside(a) && isOutside(b)) {
      return "NOT CLUSTER TRAFFIC  " + A + " → " + B + "\n" +
        "both ends are outside the cluster: no NetworkPolicy applies to this traffic";
    }
    var pid = portsBetween(a, b);
    var lines = [(pid >= 0 ? "ALLOWED" : "DENIED") + "  " + A + " → " + B + "  " +
      (pid >= 0 ? D.portSets[pid].text : "any port")];
    [a, b].forEach(function (x) {
      if (EP.columns[x].length > 1) {
        lines.push("note: the pods of " + EP.name[x] + " fall into " + EP.columns[x].length +
          " classes that the policies treat alike here; the rules shown are those of one of them");
      }
      if (hostNetwork.has(x)) {
        lines.push("note: " + EP.name[x] + " uses the host network");
      }
    });
    var ca = EP.columns[a][0];
    var cb = EP.columns[b][0];
    lines = lines.concat(sideLines("egress", ca, cb, A, B));
    lines = lines.concat(sideLines("ingress", cb, ca, B, A));
    return lines.join("\n");
  }

  // ---- helpers ------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function isolationText(e) {
    if (EP.ns[e] === K - 1 && D.namespaces[K - 1] === OUTSIDE) return "outside address range";
    var bits = EP.isolated[e];
    return ["not isolated", "isolated for ingress only", "isolated for egress only",
      "isolated for ingress and egress"][bits];
  }
  function isolationClass(e) {
    return ["iso-none", "iso-in", "iso-eg", "iso-both"][EP.isolated[e]];
  }
  function isOutside(e) { return D.namespaces[EP.ns[e]] === OUTSIDE; }
  function pairTotal(u, v, same) { return u * v - (same ? u : 0); }
  function status(connected, everything, total) {
    if (total <= 0) return "na";
    if (connected === 0) return "none";
    return everything === total ? "all" : "some";
  }

  // ---- the graph model: which nodes are visible, which edges join them ----------------------

  var state = {
    expanded: new Set(), // namespaces shown as their groups or workloads
    workloads: new Set(), // namespaces shown as workloads even when large
    expandedGroups: new Set(), // "ns|group": a group piece shown as its workloads
    filter: -1, // a namespace index: only edges touching it
  };
  if (E <= START_EXPANDED) for (k = 0; k < K; k++) state.expanded.add(k);

  function nodeModel() {
    var nodes = [];
    var endpointNode = new Int32Array(E).fill(-1);
    function add(node, members) {
      node.index = nodes.length;
      node.members = members;
      members.forEach(function (m) { endpointNode[m] = node.index; });
      nodes.push(node);
      return node;
    }
    for (var k = 0; k < K; k++) {
      var members = membersByNs[k];
      if (!members.length) continue;
      var ns = D.namespaces[k];
      if (!state.expanded.has(k)) {
        add({ id: "ns:" + k, kind: "namespace", ns: k,
          label: ns + " (" + members.length + ")" }, members);
        continue;
      }
      var box = { id: "box:" + k, kind: "box", ns: k, label: ns, members: [] };
      nodes.push(box);
      box.index = nodes.length - 1;
      var endpoints = [];
      if (members.length <= WORKLOADS_SHOWN || state.workloads.has(k)) {
        endpoints = members;
      } else {
        var byGroup = new Map();
        members.forEach(function (m) {
          var g = EP.group[m];
          if (!byGroup.has(g)) byGroup.set(g, []);
          byGroup.get(g).push(m);
        });
        byGroup.forEach(function (ms, g) {
          if (ms.length === 1 || state.expandedGroups.has(k + "|" + g)) {
            endpoints = endpoints.concat(ms);
            return;
          }
          var group = D.groups[g];
          add({ id: "g:" + k + ":" + g, kind: "group", ns: k, group: g, parent: box.id,
            label: "g" + group.id + " " + (group.selector === null ? "" : "{" + group.selector + "}") +
              " (" + ms.length + ")" }, ms);
        });
      }
      endpoints.forEach(function (m) {
        add({ id: "e:" + m, kind: "endpoint", ns: k, endpoint: m, parent: box.id,
          label: isOutside(m) ? EP.name[m] : EP.name[m].slice(ns.length + 1) +
            (EP.entireCluster[m] & 1 ? " ⚠" : "") }, [m]);
      });
    }
    return { nodes: nodes, endpointNode: endpointNode };
  }

  function edgeModel(model) {
    var pieces = new Array(groups.length);
    for (var e = 0; e < E; e++) {
      var u = model.endpointNode[e];
      if (u < 0) continue;
      var g = EP.group[e];
      if (!pieces[g]) pieces[g] = new Map();
      pieces[g].set(u, (pieces[g].get(u) || 0) + 1);
    }
    var nodes = model.nodes;
    var found = new Map();
    var filter = state.filter;
    D.rows.forEach(function (row) {
      var src = row[0];
      var ps = pieces[src];
      if (!ps) return;
      parts(src).forEach(function (part) {
        var pid = part[0];
        var all = D.portSets[pid].all;
        part[1].forEach(function (gd) {
          var pd = pieces[gd];
          if (!pd) return;
          ps.forEach(function (cu, u) {
            pd.forEach(function (cv, v) {
              var c = cu * cv - (gd === src && u === v ? cu : 0);
              if (c <= 0) return;
              if (filter >= 0 && nodes[u].ns !== filter && nodes[v].ns !== filter) return;
              var key = u * nodes.length + v;
              var edge = found.get(key);
              if (!edge) {
                edge = { u: u, v: v, connected: 0, everything: 0, pids: new Set() };
                found.set(key, edge);
              }
              edge.connected += c;
              if (all) edge.everything += c;
              edge.pids.add(pid);
            });
          });
        });
      });
    });
    return Array.from(found.values()).map(function (edge) {
      var total = pairTotal(nodes[edge.u].members.length, nodes[edge.v].members.length, edge.u === edge.v);
      edge.total = total;
      edge.status = status(edge.connected, edge.everything, total);
      edge.ports = Array.from(edge.pids).sort(function (a, b) { return a - b; })
        .map(function (p) { return D.portSets[p].text; });
      return edge;
    });
  }

  // ---- the graph view -----------------------------------------------------------------------

  var cy = cytoscape({
    container: document.getElementById("graph"),
    boxSelectionEnabled: false,
    style: [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
        "text-wrap": "wrap", "text-max-width": 150, "width": 22, "height": 22,
        "background-color": "#dff3e7", "border-width": 3, "border-color": "#2e8b57" } },
      { selector: "node.iso-in", style: { "background-color": "#fff4d6", "border-style": "double" } },
      { selector: "node.iso-eg", style: { "border-color": "#b8860b" } },
      { selector: "node.iso-none", style: { "background-color": "#fde4e1", "border-color": "#c0392b",
        "border-style": "dashed" } },
      { selector: "node.exposed", style: { "underlay-color": "#e67e22", "underlay-opacity": 0.45,
        "underlay-padding": 6, "underlay-shape": "ellipse" } },
      { selector: "node.range", style: { "shape": "diamond", "background-color": "#ecf0f1",
        "border-color": "#7f8c8d", "border-style": "solid", "border-width": 2 } },
      { selector: "node.namespace", style: { "shape": "round-rectangle", "background-color": "#e8eefb",
        "border-color": "#4a6fb5", "border-width": 2, "width": "data(size)", "height": "data(size)",
        "font-size": 11, "font-weight": "bold" } },
      { selector: "node.group", style: { "shape": "hexagon", "background-color": "#eef2f8",
        "border-color": "#6c7a96", "border-width": 2, "width": "data(size)", "height": "data(size)" } },
      { selector: "node.box", style: { "shape": "round-rectangle", "background-color": "#4a6fb5",
        "background-opacity": 0.05, "border-width": 1, "border-color": "#8894a8", "border-style": "solid",
        "text-valign": "top", "text-margin-y": -4, "font-size": 12, "font-weight": "bold", "padding": 14 } },
      { selector: "edge", style: { "width": 1.5, "line-color": "#3a6fd8", "target-arrow-color": "#3a6fd8",
        "target-arrow-shape": "triangle", "curve-style": "unbundled-bezier", "control-point-distances": 40,
        "control-point-weights": 0.5, "arrow-scale": 0.9, "opacity": 0.75 } },
      { selector: "edge:loop", style: { "curve-style": "bezier" } },
      { selector: "edge.all", style: { "line-color": "#c0392b", "target-arrow-color": "#c0392b", "width": 2.5 } },
      { selector: "edge:selected", style: { "width": 4, "opacity": 1, "line-color": "#111",
        "target-arrow-color": "#111" } },
      { selector: "node:selected", style: { "border-color": "#111", "border-width": 4 } },
      { selector: "node.match", style: { "border-color": "#8e44ad", "border-width": 5 } },
    ],
  });

  var current = { nodes: [], edges: [] };
  var graphEl = document.getElementById("graph");
  var statusEl = document.getElementById("graph-status");

  function nodeClasses(node) {
    if (node.kind !== "endpoint") return node.kind;
    var e = node.endpoint;
    if (isOutside(e)) return "endpoint range";
    return "endpoint " + isolationClass(e) + (EP.entireCluster[e] & 1 ? " exposed" : "");
  }

  var CELL_W = 150;
  var CELL_H = 80;
  /** Where each node goes: every namespace a block (its members in a grid), the blocks on
   * shelves, largest first; deterministic and linear in the nodes shown. */
  function positions(model, shown) {
    var blocks = new Map();
    model.nodes.forEach(function (n) {
      if (!shown.has(n.index) || n.kind === "box") return;
      if (!blocks.has(n.ns)) blocks.set(n.ns, []);
      blocks.get(n.ns).push(n);
    });
    var list = Array.from(blocks.entries()).map(function (entry) {
      var cols = Math.ceil(Math.sqrt(entry[1].length * 1.6));
      return { ns: entry[0], nodes: entry[1], cols: cols, rows: Math.ceil(entry[1].length / cols) + (cols > 1 ? 0.45 : 0) };
    });
    list.sort(function (a, b) { return b.nodes.length - a.nodes.length || a.ns - b.ns; });
    var area = 0;
    list.forEach(function (b) { area += (b.cols + 0.5) * (b.rows + 0.6); });
    var width = Math.max(Math.ceil(Math.sqrt(area) * 1.5), list.length ? list[0].cols + 1 : 1);
    var out = {};
    var x = 0;
    var y = 0;
    var shelf = 0;
    list.forEach(function (b) {
      if (x > 0 && x + b.cols > width) { x = 0; y += shelf + 0.7; shelf = 0; }
      b.nodes.forEach(function (n, i) {
        // odd columns a little lower: no three nodes of a row on one line (an edge between
        // two of them would pass under the third)
        var col = i % b.cols;
        out[n.id] = { x: (x + col) * CELL_W, y: (y + Math.floor(i / b.cols) + (col % 2) * 0.45) * CELL_H };
      });
      x += b.cols + 0.5;
      shelf = Math.max(shelf, b.rows);
    });
    return out;
  }

  function render(onDone) {
    var model = nodeModel();
    var edges = edgeModel(model);
    var shown = new Set();
    if (state.filter >= 0) {
      model.nodes.forEach(function (n) { if (n.ns === state.filter) shown.add(n.index); });
      edges.forEach(function (edge) { shown.add(edge.u); shown.add(edge.v); });
      var boxes = new Map();
      model.nodes.forEach(function (n) { if (n.kind === "box") boxes.set(n.id, n.index); });
      model.nodes.forEach(function (n) {
        if (n.parent && shown.has(n.index)) shown.add(boxes.get(n.parent));
      });
    } else {
      model.nodes.forEach(function (n) { shown.add(n.index); });
    }
    var elements = [];
    model.nodes.forEach(function (n) {
      if (!shown.has(n.index)) return;
      var data = { id: n.id, label: n.label, size: Math.round(24 + 8 * Math.sqrt(n.members.length)) };
      if (n.parent) data.parent = n.parent;
      elements.push({ group: "nodes", data: data, classes: nodeClasses(n) });
    });
    var drawn = edges.map(function (edge, i) { return i; });
    if (drawn.length > EDGES_DRAWN) {
      drawn.sort(function (i, j) { return edges[j].connected - edges[i].connected || i - j; });
      drawn = drawn.slice(0, EDGES_DRAWN);
    }
    drawn.forEach(function (i) {
      var edge = edges[i];
      elements.push({ group: "edges", classes: edge.status,
        data: { id: "edge" + i, source: model.nodes[edge.u].id, target: model.nodes[edge.v].id } });
    });
    current = { nodes: model.nodes, edges: edges, byId: new Map() };
    model.nodes.forEach(function (n) { current.byId.set(n.id, n); });
    cy.elements().remove();
    cy.add(elements);
    var layout = cy.layout({ name: "preset", positions: positions(model, shown), fit: false });
    layout.one("layoutstop", function () {
      cy.fit(undefined, 20);
      var endpointsShown = model.nodes.filter(function (n) { return n.kind === "endpoint"; }).length;
      statusEl.textContent = cy.nodes().length + " nodes, " + edges.length + " edges (" +
        endpointsShown + " of " + E + " workloads and ranges shown one by one)" +
        (drawn.length < edges.length ? "; drawing the " + drawn.length +
          " edges with the most pairs: filter a namespace or collapse to see the others" : "");
      graphEl.setAttribute("data-nodes", String(cy.nodes().length));
      graphEl.setAttribute("data-edges", String(edges.length));
      if (onDone) onDone();
    });
    layout.run();
  }

  function nodeOf(id) { return current.byId.get(id); }
  function edgeOf(id) { return current.edges[Number(id.slice(4))]; }

  var tooltip = document.getElementById("tooltip");
  function tip(evt, text) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    var o = evt.originalEvent;
    if (o) {
      tooltip.style.left = (o.clientX + 14) + "px";
      tooltip.style.top = (o.clientY + 10) + "px";
    }
  }
  function edgeText(edge) {
    var u = current.nodes[edge.u];
    var v = current.nodes[edge.v];
    var lines = [nodeName(u) + " → " + nodeName(v)];
    if (edge.total > 1) lines.push(edge.connected + " of " + edge.total + " pairs allowed");
    lines.push("ports: " + edge.ports.join("; "));
    return lines.join("\n");
  }
  function nodeName(node) {
    if (node.kind === "endpoint") return EP.name[node.endpoint];
    if (node.kind === "group") return D.namespaces[node.ns] + " " + node.label;
    return D.namespaces[node.ns];
  }
  cy.on("mouseover", "edge", function (evt) { tip(evt, edgeText(edgeOf(evt.target.id()))); });
  cy.on("mouseover", "node", function (evt) {
    var node = nodeOf(evt.target.id());
    if (node) tip(evt, nodeName(node) + (node.kind === "endpoint" ? "\n" + isolationText(node.endpoint) : "\n" + node.members.length + " workloads and ranges"));
  });
  cy.on("mouseout", function () { tooltip.hidden = true; });
  cy.on("tap", "edge", function (evt) { showEdge(edgeOf(evt.target.id())); });
  cy.on("tap", "node", function (evt) { showNode(nodeOf(evt.target.id())); });
  cy.on("dbltap", "node", function (evt) { toggle(nodeOf(evt.target.id())); });

  function toggle(node) {
    if (!node) return;
    if (node.kind === "namespace") state.expanded.add(node.ns);
    else if (node.kind === "box") { state.expanded.delete(node.ns); state.workloads.delete(node.ns); }
    else if (node.kind === "group") state.expandedGroups.add(node.ns + "|" + node.group);
    else return;
    render();
  }

  // ---- details ------------------------------------------------------------------------------

  var detailsBody = document.getElementById("details-body");
  var explainEl = document.getElementById("explain");

  function showExplain(a, b, target) {
    (target || explainEl).textContent = explain(a, b);
  }
  function pairLink(a, b, target) {
    var link = el("a", { className: "link", text: EP.name[a] + " → " + EP.name[b] });
    link.addEventListener("click", function () { showExplain(a, b, target); });
    return link;
  }

  function showEdge(edge) {
    var u = current.nodes[edge.u];
    var v = current.nodes[edge.v];
    clear(detailsBody);
    explainEl.textContent = "";
    detailsBody.appendChild(el("h3", { text: nodeName(u) + " → " + nodeName(v) }));
    detailsBody.appendChild(el("p", { text: "ports: " + edge.ports.join("; ") }));
    if (u.kind === "endpoint" && v.kind === "endpoint") {
      showExplain(u.endpoint, v.endpoint);
      return;
    }
    detailsBody.appendChild(el("p", { text: edge.connected + " of " + edge.total +
      " workload pairs allowed; click one for its explanation." }));
    var list = el("ul");
    var listed = 0;
    outer: for (var i = 0; i < u.members.length; i++) {
      for (var j = 0; j < v.members.length; j++) {
        var a = u.members[i];
        var b = v.members[j];
        var pid = portsBetween(a, b);
        if (pid < 0) continue;
        var item = el("li", {}, [pairLink(a, b), " : " + D.portSets[pid].text]);
        list.appendChild(item);
        if (++listed >= PAIRS_LISTED) break outer;
      }
    }
    detailsBody.appendChild(list);
    if (listed >= PAIRS_LISTED) detailsBody.appendChild(el("p", { className: "hint",
      text: "first " + PAIRS_LISTED + " pairs; expand the nodes to see the rest" }));
  }

  function showNode(node) {
    if (!node) return;
    clear(detailsBody);
    explainEl.textContent = "";
    detailsBody.appendChild(el("h3", { text: nodeName(node) }));
    if (node.kind !== "endpoint") {
      var button = el("button", { type: "button", text: node.kind === "box" ? "Collapse" : "Expand" });
      button.addEventListener("click", function () { toggle(node); });
      detailsBody.appendChild(el("p", { text: node.members.length + " workloads and ranges " }, [button]));
      if (node.kind === "group") {
        var group = D.groups[node.group];
        detailsBody.appendChild(el("p", { text: "group g" + group.id + ": namespaces " +
          group.namespaces.join(", ") + "; selector " + (group.selector === null ? "(none describes it)" : "{" + group.selector + "}") }));
      }
      var list = el("ul");
      node.members.slice(0, PAIRS_LISTED).forEach(function (m) { list.appendChild(el("li", { text: EP.name[m] })); });
      detailsBody.appendChild(list);
      return;
    }
    var e = node.endpoint;
    var info = [EP.kind[e] === "range" ? "outside address range" : EP.kind[e] + ", " + EP.pods[e] + " pod(s) in the input",
      isolationText(e)];
    if (EP.entireCluster[e]) {
      info.push("exposed to the entire cluster for " +
        ["", "ingress", "egress", "ingress and egress"][EP.entireCluster[e]]);
    }
    var group = D.groups[EP.group[e]];
    info.push("group g" + group.id + (group.selector === null ? "" : " {" + group.selector + "}") +
      " (" + groups[EP.group[e]].length + " members)");
    info.forEach(function (line) { detailsBody.appendChild(el("p", { text: line })); });
    var exposures = [];
    var S = D.exposure.strings;
    ["ingress", "egress"].forEach(function (direction) {
      D.exposure[direction].forEach(function (item) {
        if (S[item[0]] === EP.name[e]) exposures.push(direction + ": " + S[item[1]] + " : " + S[item[2]]);
      });
    });
    if (exposures.length) {
      detailsBody.appendChild(el("p", { text: "exposure beyond the input:" }));
      var ul = el("ul");
      exposures.forEach(function (x) { ul.appendChild(el("li", { text: x })); });
      detailsBody.appendChild(ul);
    }
  }

  // ---- toolbar: search, namespace filter, expand -------------------------------------------

  var filterEl = document.getElementById("namespace-filter");
  D.namespaces.forEach(function (ns, k) {
    if (membersByNs[k].length) filterEl.appendChild(el("option", { value: String(k), text: ns }));
  });
  filterEl.addEventListener("change", function () {
    setNamespace(filterEl.value === "" ? -1 : Number(filterEl.value));
  });
  function setNamespace(k, onDone) {
    state.filter = k;
    filterEl.value = k < 0 ? "" : String(k);
    if (k >= 0) state.expanded.add(k);
    render(onDone);
  }

  function reveal(e) {
    var k = EP.ns[e];
    state.expanded.add(k);
    state.expandedGroups.add(k + "|" + EP.group[e]);
    render(function () {
      var node = cy.getElementById("e:" + e);
      cy.elements().unselect();
      node.select();
      cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 1) }, { duration: 200 });
      showNode(nodeOf("e:" + e));
    });
  }

  var searchEl = document.getElementById("search");
  var resultsEl = document.getElementById("search-results");
  searchEl.addEventListener("input", function () {
    var q = searchEl.value.trim().toLowerCase();
    clear(resultsEl);
    cy.nodes().removeClass("match");
    if (!q) { resultsEl.hidden = true; return; }
    var hits = [];
    for (var e = 0; e < E && hits.length < 30; e++) {
      if (EP.name[e].toLowerCase().indexOf(q) >= 0) hits.push(e);
    }
    hits.forEach(function (e) {
      var item = el("li", { text: EP.name[e], "data-endpoint": String(e) });
      item.addEventListener("click", function () { resultsEl.hidden = true; reveal(e); });
      resultsEl.appendChild(item);
      var node = cy.getElementById("e:" + e);
      if (node.length) node.addClass("match");
    });
    cy.nodes().forEach(function (n) {
      var node = nodeOf(n.id());
      if (node && node.kind !== "endpoint" && nodeName(node).toLowerCase().indexOf(q) >= 0) n.addClass("match");
    });
    if (!hits.length) resultsEl.appendChild(el("li", { text: "no workload or range matches" }));
    resultsEl.hidden = false;
  });
  searchEl.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && resultsEl.firstChild && resultsEl.firstChild.dataset.endpoint) {
      resultsEl.hidden = true;
      reveal(Number(resultsEl.firstChild.dataset.endpoint));
    }
  });

  function expandAll(onDone) {
    for (var k = 0; k < K; k++) { state.expanded.add(k); state.workloads.add(k); }
    render(onDone);
  }
  function collapseAll(onDone) {
    state.expanded.clear(); state.workloads.clear(); state.expandedGroups.clear();
    render(onDone);
  }
  document.getElementById("expand-all").addEventListener("click", function () {
    if (E > 2000 && !window.confirm(E + " workloads and ranges one by one may be slow. Expand all?")) return;
    expandAll();
  });
  document.getElementById("collapse-all").addEventListener("click", function () { collapseAll(); });
  document.getElementById("fit").addEventListener("click", function () { cy.fit(undefined, 20); });

  // ---- the matrix ---------------------------------------------------------------------------

  var pairs = new Map();
  D.namespacePairs.forEach(function (p) { pairs.set(p[0] * K + p[1], p); });
  var cellDetail = document.getElementById("cell-detail");

  function renderMatrix() {
    var shown = [];
    for (var k = 0; k < K; k++) if (membersByNs[k].length) shown.push(k);
    var table = el("table", { className: "matrix", "data-testid": "matrix" });
    var head = el("tr", {}, [el("th", { text: "from \\ to" })]);
    shown.forEach(function (d) { head.appendChild(el("th", { className: "col", text: D.namespaces[d] })); });
    table.appendChild(head);
    shown.forEach(function (s) {
      var tr = el("tr", {}, [el("th", { className: "row", text: D.namespaces[s] })]);
      shown.forEach(function (d) {
        var p = pairs.get(s * K + d);
        var outside = D.namespaces[s] === OUTSIDE && D.namespaces[d] === OUTSIDE;
        var total = outside ? 0 : pairTotal(membersByNs[s].length, membersByNs[d].length, s === d);
        var st = status(p ? p[2] : 0, p ? p[3] : 0, total);
        var td = el("td", { className: "cell " + st, "data-src": D.namespaces[s], "data-dst": D.namespaces[d],
          "data-status": st,
          title: D.namespaces[s] + " → " + D.namespaces[d] + ": " + (p ? p[2] : 0) + " of " + total +
            " pairs" + (p ? "; " + D.portSets[p[4]].text : "") });
        td.textContent = st === "all" ? "A" : st === "some" ? "s" : "";
        td.addEventListener("click", function () {
          Array.prototype.forEach.call(table.querySelectorAll("td.selected"), function (c) { c.classList.remove("selected"); });
          td.classList.add("selected");
          showCell(s, d);
        });
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    var box = document.getElementById("matrix");
    clear(box);
    box.appendChild(table);
  }

  function showCell(s, d) {
    clear(cellDetail);
    var p = pairs.get(s * K + d);
    var rows = membersByNs[s];
    var cols = membersByNs[d];
    var total = pairTotal(rows.length, cols.length, s === d);
    cellDetail.appendChild(el("h3", { text: D.namespaces[s] + " → " + D.namespaces[d] }));
    cellDetail.appendChild(el("p", { text: (p ? p[2] : 0) + " of " + total + " workload pairs allowed" +
      (p ? " (" + p[3] + " on every port); ports: " + D.portSets[p[4]].text : "") }));
    var out = el("pre", { className: "cell-explain", "data-testid": "cell-explain" });
    var table = el("table", { className: "matrix sub" });
    var head = el("tr", {}, [el("th", { text: "" })]);
    cols.slice(0, SUB_MATRIX).forEach(function (b) { head.appendChild(el("th", { className: "col", text: EP.name[b] })); });
    table.appendChild(head);
    rows.slice(0, SUB_MATRIX).forEach(function (a) {
      var tr = el("tr", {}, [el("th", { className: "row", text: EP.name[a] })]);
      cols.slice(0, SUB_MATRIX).forEach(function (b) {
        var pid = portsBetween(a, b);
        var st = a === b || (isOutside(a) && isOutside(b)) ? "na" : pid < 0 ? "none" : D.portSets[pid].all ? "all" : "some";
        var td = el("td", { className: "cell " + st, "data-src": EP.name[a], "data-dst": EP.name[b],
          "data-status": st, title: EP.name[a] + " → " + EP.name[b] + ": " + (pid < 0 ? "nothing" : D.portSets[pid].text) });
        if (st !== "na") td.addEventListener("click", function () { showExplain(a, b, out); });
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    cellDetail.appendChild(el("div", { className: "scroll" }, [table]));
    if (rows.length > SUB_MATRIX || cols.length > SUB_MATRIX) {
      cellDetail.appendChild(el("p", { className: "hint", text: "the first " + SUB_MATRIX +
        " workloads of each side; search the graph for the others" }));
    }
    cellDetail.appendChild(out);
  }

  // ---- tables -------------------------------------------------------------------------------

  function table(headers, rows, attrs) {
    var t = el("table", attrs || {});
    t.appendChild(el("tr", {}, headers.map(function (h) { return el("th", { text: h }); })));
    rows.forEach(function (cells) {
      t.appendChild(el("tr", {}, cells.map(function (c) {
        return typeof c === "string" || typeof c === "number" ? el("td", { text: String(c) }) : el("td", {}, [c]);
      })));
    });
    return t;
  }
  function more(box, total) {
    if (total > TABLE_ROWS) box.appendChild(el("p", { className: "hint", text: "first " + TABLE_ROWS + " of " + total }));
  }

  function renderLint() {
    var box = document.getElementById("lint");
    var c = D.lint.counts;
    box.appendChild(el("p", { text: c.error + " errors, " + c.warning + " warnings, " + c.info + " info" }));
    if (!D.lint.findings.length) return;
    box.appendChild(table(["severity", "check", "object", "location", "message"],
      D.lint.findings.slice(0, TABLE_ROWS).map(function (f) {
        var message = el("div", {}, [f.message]);
        if (f.fix) message.appendChild(el("details", {}, [el("summary", { text: "fix" }), el("pre", { className: "fix", text: f.fix })]));
        return [el("span", { className: "sev-" + f.severity, text: f.severity }), f.check,
          f.object + " (" + f.kind + ")", f.file + (f.line ? ":" + f.line : ""), message];
      }), { "data-testid": "lint" }));
    more(box, D.lint.findings.length);
  }

  function pct(x) { return x === null || x === undefined ? "-" : x + "%"; }
  function renderCoverage() {
    var box = document.getElementById("coverage");
    var cov = D.coverage;
    var rows = cov.namespaces.slice(0, TABLE_ROWS).map(function (r) {
      var next = r.nextStep ? r.nextStep.label + " (" + r.nextStep.blocking + " blocking)" : "-";
      return [r.namespace, r.policies, r.workloads,
        r.isolated.ingress + " (" + pct(r.percent.ingress) + ")",
        r.isolated.egress + " (" + pct(r.percent.egress) + ")",
        r.isolated.neither + " (" + pct(r.percent.neither) + ")", r.step.label, next];
    });
    var t = cov.totals;
    rows.push(["total", "", t.workloads, t.isolated.ingress + " (" + pct(t.percent.ingress) + ")",
      t.isolated.egress + " (" + pct(t.percent.egress) + ")",
      t.isolated.neither + " (" + pct(t.percent.neither) + ")", "", ""]);
    box.appendChild(table(["namespace", "policies", "workloads", "isolated ingress", "isolated egress",
      "neither", "step", "next step"], rows, { "data-testid": "coverage" }));
    more(box, cov.namespaces.length);
    if (cov.next.length) {
      box.appendChild(el("h3", { text: "Do next: the most reachable workloads" }));
      box.appendChild(table(["workload", "reached by workloads", "from every pod", "from outside"],
        cov.next.map(function (w) {
          return [w.workload, w.reachingWorkloads, w.fromEveryPod ? "yes" : "no",
            w.fromOutside ? w.fromOutside.ranges.join(", ") : "-"];
        })));
    }
  }

  function renderExposure() {
    var box = document.getElementById("exposure");
    var rows = [];
    ["ingress", "egress"].forEach(function (direction) {
      D.exposure[direction].forEach(function (item) {
        rows.push([D.exposure.strings[item[0]], direction, D.exposure.strings[item[1]], D.exposure.strings[item[2]]]);
      });
    });
    box.appendChild(el("p", { text: rows.length + " exposure items; " + D.exposure.unprotected.length +
      " workload directions not protected by any policy" }));
    box.appendChild(table(["workload", "direction", "peer", "ports"], rows.slice(0, TABLE_ROWS),
      { "data-testid": "exposure" }));
    more(box, rows.length);
  }

  // ---- start --------------------------------------------------------------------------------

  window.netpolicyReport = {
    data: D,
    cy: cy,
    ready: false,
    /** The visible nodes: endpoints by name; namespaces and groups by their id. */
    nodes: function () {
      return cy.nodes().map(function (n) {
        var node = nodeOf(n.id());
        return { id: n.id(), kind: node.kind, name: nodeName(node), members: node.members.length };
      });
    },
    /** The visible edges with their ports, endpoints named as connlist names them. */
    edges: function () {
      return current.edges.map(function (edge, i) {
        return { id: "edge" + i, src: nodeName(current.nodes[edge.u]), dst: nodeName(current.nodes[edge.v]),
          ports: edge.ports, status: edge.status, connected: edge.connected, total: edge.total };
      });
    },
    explain: function (src, dst) { return explain(endpointByName.get(src), endpointByName.get(dst)); },
    expandAll: function () { return new Promise(function (resolve) { expandAll(resolve); }); },
    collapseAll: function () { return new Promise(function (resolve) { collapseAll(resolve); }); },
    setNamespace: function (ns) {
      return new Promise(function (resolve) { setNamespace(ns === "" ? -1 : D.namespaces.indexOf(ns), resolve); });
    },
  };

  renderLint();
  renderCoverage();
  renderExposure();
  renderMatrix();
  render(function () {
    window.netpolicyReport.ready = true;
    window.netpolicyReport.renderMs = performance.now() - started;
    document.body.setAttribute("data-ready", "true");
  });
})();
