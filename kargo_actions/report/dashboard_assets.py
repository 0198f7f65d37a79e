"""The dashboard's own stylesheet and script, written as files beside the pages (no CDN, no web fonts).

Linked by relative path rather than inlined: one copy serves 10,000 Freight pages. The script only adds
comfort (relative times, a table filter); every page reads fully without it.
"""

from __future__ import annotations

CSS = """\
:root {
  --bg: #f4f6fa; --card: #ffffff; --ink: #1c2433; --muted: #5d6b82; --line: #dde3ec;
  --brand: #14213d; --brand-2: #23395d; --link: #1f5fbf;
  --ok: #1e8e3e; --ok-bg: #e6f4ea; --warn: #b06000; --warn-bg: #fef3e0;
  --bad: #c5221f; --bad-bg: #fce8e6; --busy: #1a73e8; --busy-bg: #e8f0fe;
  --idle: #6b7a90; --idle-bg: #eef1f5;
  font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-size: 14px; line-height: 1.45; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
header.top { background: var(--brand); color: #fff; display: flex; align-items: center; gap: 24px;
  padding: 0 28px; height: 54px; }
header.top .brand { color: #fff; font-weight: 700; font-size: 16px; letter-spacing: .2px; }
header.top .brand .logo { display: inline-block; width: 22px; height: 22px; border-radius: 6px;
  background: linear-gradient(135deg, #fca311, #e85d04); vertical-align: -5px; margin-right: 9px; }
header.top nav { display: flex; gap: 4px; flex: 1; flex-wrap: wrap; }
header.top nav a { color: #cfd8e6; padding: 6px 10px; border-radius: 6px; }
header.top nav a:hover, header.top nav a.active { background: var(--brand-2); color: #fff; text-decoration: none; }
header.top .generated { color: #9fb0c8; font-size: 12px; white-space: nowrap; }
main { max-width: 1280px; margin: 0 auto; padding: 22px 28px 40px; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 16px; margin: 28px 0 12px; color: var(--brand); }
h3 { font-size: 14px; margin: 18px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 14px; }
.crumbs { color: var(--muted); font-size: 12.5px; margin-bottom: 6px; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; }
.graph-panel { overflow-x: auto; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0 0; }
.summary .stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 8px 14px; }
.summary .stat b { font-size: 18px; display: block; }
.summary .stat span { color: var(--muted); font-size: 12px; }
.problems { background: var(--bad-bg); border: 1px solid #f3b9b4; color: var(--bad); border-radius: 10px;
  padding: 10px 14px; margin: 12px 0; }
.problems li { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
/* pipeline graph */
svg.pipeline { display: block; margin: 0 auto; max-width: 100%; height: auto; }
svg.pipeline .edge { fill: none; stroke: #9aa8bd; stroke-width: 1.8; }
svg.pipeline .edge.direct { stroke-dasharray: 5 4; }
svg.pipeline .arrow-head { fill: #9aa8bd; }
svg.pipeline .edge-label { font-size: 11px; fill: var(--muted); text-anchor: middle; }
svg.pipeline .node-box { fill: #fff; stroke: #c9d2df; stroke-width: 1.2; }
svg.pipeline .node:hover .node-box { stroke: var(--link); stroke-width: 2; }
svg.pipeline .node-accent { fill: var(--idle); }
svg.pipeline .node-kind { font-size: 10px; fill: var(--muted); text-transform: uppercase; letter-spacing: .3px; }
svg.pipeline .node-name { font-size: 14px; font-weight: 700; fill: var(--ink); }
svg.pipeline .node-sub { font-size: 11.5px; fill: var(--muted); }
svg.pipeline .warehouse .node-box { fill: #eef3fc; stroke: #a9c1ea; }
svg.pipeline .warehouse .node-accent { fill: #1a73e8; }
svg.pipeline .control-flow .node-box { fill: #fffaf0; stroke: #f0c36d; stroke-dasharray: 5 4; }
svg.pipeline .state-ok .node-accent { fill: var(--ok); }
svg.pipeline .state-warn .node-accent { fill: #f29900; }
svg.pipeline .state-bad .node-accent { fill: var(--bad); }
svg.pipeline .state-busy .node-accent { fill: var(--busy); }
.legend { display: flex; gap: 16px; color: var(--muted); font-size: 12px; margin-top: 8px; justify-content: center; }
.legend i.swatch-ok { background: var(--ok); }
.legend i.swatch-warn { background: #f29900; }
.legend i.swatch-busy { background: var(--busy); }
.legend i.swatch-bad { background: var(--bad); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 5px; vertical-align: -1px; }
/* badges and chips */
.badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 11.5px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.busy { color: var(--busy); background: var(--busy-bg); }
.badge.idle { color: var(--idle); background: var(--idle-bg); }
.chip { display: inline-block; border-radius: 6px; padding: 0 7px; font-size: 11.5px; margin: 1px 3px 1px 0;
  border: 1px solid #b7c4d8; color: var(--brand-2); background: #fff; white-space: nowrap; }
.chip.current { background: var(--brand-2); border-color: var(--brand-2); color: #fff; }
.chip.verified { border-color: #8cc79b; color: var(--ok); }
.chip.approved { border-style: dashed; color: var(--warn); border-color: #e8b56b; }
/* stage cards */
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px;
  border-top: 4px solid var(--idle); display: flex; flex-direction: column; gap: 8px; }
.card.state-ok { border-top-color: var(--ok); }
.card.state-warn { border-top-color: #f29900; }
.card.state-bad { border-top-color: var(--bad); }
.card.state-busy { border-top-color: var(--busy); }
.card .card-head { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
.card .card-title { font-weight: 700; font-size: 15px; }
.card dl { margin: 0; display: grid; grid-template-columns: 104px 1fr; gap: 4px 10px; }
.card dt { color: var(--muted); font-size: 12px; }
.card dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.card .card-foot { color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
.artifacts { list-style: none; margin: 2px 0 0; padding: 0; color: var(--muted); font-size: 12px; }
.stage-top { display: grid; grid-template-columns: minmax(280px, 380px) 1fr; gap: 14px; align-items: start; }
.stage-top .kv { grid-template-columns: 110px 1fr; }
.artifacts li { overflow-wrap: anywhere; }
.alias { font-weight: 600; }
.muted { color: var(--muted); }
/* freight timeline strip */
.timeline { display: flex; gap: 10px; overflow-x: auto; padding: 4px 2px 10px; }
.freight-tile { flex: 0 0 200px; background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 10px 12px; display: flex; flex-direction: column; gap: 4px; }
.freight-tile.in-use { border-color: #8fa6c9; box-shadow: 0 1px 0 #8fa6c9; }
.freight-tile .alias { overflow-wrap: anywhere; }
.freight-tile .when { color: var(--muted); font-size: 12px; }
.freight-tile .art { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.more { margin: 4px 0 0; }
/* tables */
table.grid { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; overflow: hidden; }
table.grid th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; background: #f7f9fc;
  padding: 8px 10px; border-bottom: 1px solid var(--line); }
table.grid td { padding: 7px 10px; border-bottom: 1px solid #edf1f6; vertical-align: top; overflow-wrap: anywhere; }
table.grid tr:last-child td { border-bottom: 0; }
table.grid tr:hover td { background: #fafcff; }
details summary { cursor: pointer; color: var(--link); font-size: 12px; }
details ol { margin: 6px 0 0; padding-left: 18px; }
.kv { display: grid; grid-template-columns: 160px 1fr; gap: 6px 14px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.filter { margin: 0 0 10px; padding: 7px 10px; border: 1px solid var(--line); border-radius: 8px; width: 320px;
  max-width: 100%; font: inherit; }
/* a Freight page holds every Freight of one ID prefix; linked to one (#id), it shows that one alone */
.bucket:has(section.freight:target) section.freight:not(:target) { display: none; }
section.freight { border-bottom: 1px dashed var(--line); padding-bottom: 18px; margin-bottom: 18px; }
section.freight h1 a { color: var(--ink); }
.deep-link { font-weight: 600; }
.link-error { color: var(--bad); font-size: 12px; }
.pager { display: flex; gap: 6px; flex-wrap: wrap; margin: 10px 0; }
.pager a, .pager span { padding: 3px 9px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.pager span.here { background: var(--brand-2); color: #fff; border-color: var(--brand-2); }
footer.bottom { max-width: 1280px; margin: 0 auto; padding: 0 28px 28px; color: var(--muted); font-size: 12px; }
"""

JS = """\
"use strict";
(function () {
  function ago(then, now) {
    var s = Math.round((now - then) / 1000), future = s < 0;
    s = Math.abs(s);
    var units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
    for (var i = 0; i < units.length; i++) {
      if (s >= units[i][1] || units[i][1] === 1) {
        var n = Math.floor(s / units[i][1]);
        return future ? "in " + n + units[i][0] : n + units[i][0] + " ago";
      }
    }
    return "";
  }
  function relativeTimes() {
    var now = Date.now();
    var nodes = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < nodes.length; i++) {
      var t = Date.parse(nodes[i].getAttribute("datetime"));
      if (!isNaN(t)) {
        nodes[i].title = nodes[i].textContent;
        nodes[i].textContent = ago(t, now);
      }
    }
  }
  function filters() {
    var inputs = document.querySelectorAll("input[data-filter]");
    for (var i = 0; i < inputs.length; i++) {
      (function (input) {
        var table = document.getElementById(input.getAttribute("data-filter"));
        if (!table) { return; }
        input.addEventListener("input", function () {
          var q = input.value.toLowerCase();
          var rows = table.tBodies[0].rows;
          for (var r = 0; r < rows.length; r++) {
            rows[r].hidden = q !== "" && rows[r].textContent.toLowerCase().indexOf(q) < 0;
          }
        });
      })(inputs[i]);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    relativeTimes();
    filters();
    document.documentElement.setAttribute("data-ready", "1");
  });
})();
"""
