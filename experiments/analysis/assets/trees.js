"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var trees = JSON.parse(document.getElementById("tree-data").textContent);
  var select = document.getElementById("problem");

  function colour(score) {
    if (score === null || score === undefined) return "#999";
    var s = Math.max(0, Math.min(1, score));
    return "hsl(" + Math.round(120 * s) + ", 70%, 45%)";
  }

  function layout(nodes) {
    // Leaves take consecutive columns in depth-first order; a parent sits over its children.
    var children = {}, x = {}, next = 0;
    nodes.forEach(function (n) { children[n.id] = []; });
    nodes.forEach(function (n) { if (n.parent !== null) children[n.parent].push(n.id); });
    var root = nodes.filter(function (n) { return n.parent === null; })[0].id;
    var stack = [[root, false]];
    while (stack.length) {
      var top = stack.pop(), id = top[0];
      if (!children[id].length) { x[id] = next++; continue; }
      if (top[1]) {
        var xs = children[id].map(function (c) { return x[c]; });
        x[id] = (Math.min.apply(null, xs) + Math.max.apply(null, xs)) / 2;
        continue;
      }
      stack.push([id, true]);
      for (var i = children[id].length - 1; i >= 0; i--) stack.push([children[id][i], false]);
    }
    return { x: x, children: children, width: Math.max(next, 1) };
  }

  function pathTo(tree, id) {
    var byId = {}, path = [];
    tree.nodes.forEach(function (n) { byId[n.id] = n; });
    while (id !== null && id !== undefined) { path.unshift(byId[id]); id = byId[id].parent; }
    return path;
  }

  function show(tree, node) {
    var path = pathTo(tree, node.id);
    document.getElementById("detail").textContent =
      "node " + node.id + " (depth " + node.depth + ")" +
      (node.terminal ? ", finished" : "") + (node.answer !== null ? ", answer " + node.answer : "") +
      "\nstep scores: " + (node.step_scores ? node.step_scores.map(function (s) { return s.toFixed(3); }).join(", ") : "none") +
      "\n\n" + path.map(function (n) { return n.text; }).join("");
  }

  function draw(index) {
    var tree = trees[index], nodes = tree.nodes, place = layout(nodes);
    var dx = 22, dy = 46, pad = 20;
    var depth = Math.max.apply(null, nodes.map(function (n) { return n.depth; }));
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", pad * 2 + dx * place.width);
    svg.setAttribute("height", pad * 2 + dy * (depth + 1));
    svg.setAttribute("id", "tree");
    var onPath = {};
    if (tree.chosen !== null) pathTo(tree, tree.chosen).forEach(function (n) { onPath[n.id] = true; });
    function at(n) { return [pad + dx * place.x[n.id] + dx / 2, pad + dy * n.depth + 8]; }
    var byId = {};
    nodes.forEach(function (n) { byId[n.id] = n; });
    nodes.forEach(function (n) {
      if (n.parent === null) return;
      var a = at(byId[n.parent]), b = at(n), line = document.createElementNS(SVG, "line");
      line.setAttribute("x1", a[0]); line.setAttribute("y1", a[1]);
      line.setAttribute("x2", b[0]); line.setAttribute("y2", b[1]);
      line.setAttribute("class", "edge" + (onPath[n.id] ? " chosen" : ""));
      svg.appendChild(line);
    });
    nodes.forEach(function (n) {
      var p = at(n), shape, pruned = !n.terminal && !place.children[n.id].length && n.parent !== null;
      if (n.terminal) {
        shape = document.createElementNS(SVG, "rect");
        shape.setAttribute("x", p[0] - 7); shape.setAttribute("y", p[1] - 7);
        shape.setAttribute("width", 14); shape.setAttribute("height", 14);
      } else {
        shape = document.createElementNS(SVG, "circle");
        shape.setAttribute("cx", p[0]); shape.setAttribute("cy", p[1]); shape.setAttribute("r", 7);
      }
      var kind = n.terminal ? "finished" : pruned ? "pruned" : "open";
      shape.setAttribute("class", "node " + kind + (onPath[n.id] ? " on-path" : "") + (n.id === tree.chosen ? " chosen" : ""));
      shape.setAttribute("fill", colour(n.score));
      shape.setAttribute("data-node", n.id);
      var tip = document.createElementNS(SVG, "title");
      tip.textContent = "node " + n.id + (n.score !== null ? " score " + n.score.toFixed(3) : "") + "\n" + n.text;
      shape.appendChild(tip);
      shape.addEventListener("click", function () { show(tree, n); });
      svg.appendChild(shape);
    });
    var canvas = document.getElementById("canvas");
    canvas.innerHTML = "";
    canvas.appendChild(svg);
    var finished = nodes.filter(function (n) { return n.terminal; }).length;
    document.getElementById("summary").textContent =
      nodes.length + " nodes, " + finished + " finished; answer " + tree.answer + " (reference " + tree.reference +
      ", " + (tree.correct ? "correct" : "wrong") + ")" + (tree.chosen === null ? "; chosen node not found" : "");
    if (tree.chosen !== null) show(tree, byId[tree.chosen]);
  }

  trees.forEach(function (tree, i) {
    var option = document.createElement("option");
    option.value = i;
    option.textContent = tree.problem_id + (tree.correct ? "  \u2713" : "  \u2717");
    select.appendChild(option);
  });
  select.addEventListener("change", function () { draw(Number(select.value)); });
  var wanted = decodeURIComponent(location.hash.replace(/^#/, ""));
  var start = Math.max(0, trees.findIndex(function (t) { return t.problem_id === wanted; }));
  select.value = start;
  draw(start);
})();
window.addEventListener("load", function () {
  var box = document.getElementById("console-errors");
  box.textContent = JSON.stringify(window.__errors);
  box.setAttribute("data-count", window.__errors.length);
});
