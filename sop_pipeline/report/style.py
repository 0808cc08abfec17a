"""The pack's stylesheet: system fonts only (works offline), readable on a projector, print-friendly."""

CSS = """
:root { --fg:#24292f; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa; --good:#1a7f37; --bad:#cf222e;
        --warn:#9a6700; --accent:#0969da; --good-bg:#dafbe1; --bad-bg:#ffebe9; --warn-bg:#fff8c5; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); line-height:1.4;
       font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main, header, footer { max-width:1280px; margin:0 auto; padding:0 20px; }
header { padding-top:20px; }
h1 { font-size:26px; margin:0 0 4px; } h1 .cycle { color:var(--muted); font-weight:normal; }
h2 { font-size:21px; margin:0 0 12px; display:flex; align-items:center; gap:10px; }
h3 { font-size:16px; margin:0 0 6px; } h4 { font-size:14px; margin:14px 0 6px; color:var(--muted); }
.meta, .note { color:var(--muted); font-size:13px; margin:2px 0 8px; }
.timebox { display:inline-block; background:var(--accent); color:white; border-radius:12px; padding:1px 10px;
           font-size:13px; font-weight:600; white-space:nowrap; }
.agenda { background:white; border:1px solid var(--line); border-radius:8px; padding:10px 16px; margin:12px 0; }
.agenda ol { margin:6px 0 0; padding:0; list-style:none; display:flex; flex-wrap:wrap; gap:6px 22px; counter-reset:item; }
.agenda li { counter-increment:item; } .agenda li::before { content:counter(item) ". "; font-weight:600; }
.agenda a { color:var(--fg); }
.dq { background:white; border:1px solid var(--line); border-radius:8px; padding:10px 16px; }
section { background:white; border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin:18px 0; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(480px, 1fr)); gap:0 24px; }
.panel { border-top:1px solid #eaeef2; padding:12px 0 6px; min-width:0; }
.grid > .panel { border-top:1px solid #eaeef2; }
.chart { margin:0; width:100%; min-width:0; } .chart-row { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:12px; }
.nothing { color:var(--good); font-weight:600; margin:4px 0; }
.no-data { background:var(--bg); border:1px dashed var(--line); border-radius:6px; padding:14px; color:var(--muted); }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(165px, 1fr)); gap:10px; }
.tile { border:1px solid var(--line); border-left:6px solid #8c959f; border-radius:8px; padding:8px 12px; }
.tile.good { border-left-color:var(--good); } .tile.bad { border-left-color:var(--bad); }
.tile-label { font-size:13px; color:var(--muted); font-weight:600; }
.tile-value { font-size:24px; font-weight:700; white-space:nowrap; }
.tile-unit { font-size:12px; font-weight:600; color:var(--muted); }
.tile-line { font-size:12px; color:var(--muted); }
.arrow { font-size:18px; } .arrow.good { color:var(--good); } .arrow.bad { color:var(--bad); }
.arrow.neutral { color:#8c959f; }
.badge { display:inline-block; border-radius:10px; padding:0 8px; font-size:12px; font-weight:600; margin-right:4px; }
.badge.good { background:var(--good-bg); color:var(--good); } .badge.bad { background:var(--bad-bg); color:var(--bad); }
.badge.warn { background:var(--warn-bg); color:var(--warn); } .badge.neutral { background:#eaeef2; color:var(--muted); }
.callouts { display:grid; grid-template-columns:repeat(auto-fit, minmax(340px, 1fr)); gap:12px; }
.callout { border-radius:8px; padding:10px 14px; border:1px solid var(--line); margin:6px 0; font-size:14px; }
.callout ul { margin:6px 0 0; padding-left:20px; } .callout li { margin:3px 0; }
.callout.bad { background:var(--bad-bg); border-color:#ffcecb; } .callout.good { background:var(--good-bg); border-color:#aceebb; }
.callout.warn { background:var(--warn-bg); border-color:#eed888; } .callout.neutral { background:var(--bg); }
ul.alerts { padding-left:18px; font-size:14px; } ul.alerts li { margin:4px 0; }
.headline { font-size:17px; font-weight:600; margin:4px 0 10px; }
.headline.good { color:var(--good); } .headline.bad { color:var(--bad); }
table { border-collapse:collapse; width:100%; font-size:13px; margin:6px 0; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid #eaeef2; vertical-align:top; }
th { background:var(--bg); font-weight:600; } .num { text-align:right; font-variant-numeric:tabular-nums; }
td.num { white-space:nowrap; } .table-wrap { overflow-x:auto; max-width:100%; }
tr.total td { font-weight:700; border-top:2px solid var(--line); }
td.cell-good { background:var(--good-bg); } td.cell-bad { background:var(--bad-bg); }
table.abc td, table.abc th { text-align:center; } table.abc { max-width:520px; }
.vote { white-space:nowrap; font-size:15px; }
footer { color:var(--muted); font-size:12px; padding:8px 20px 30px; }
@media print {
  body { background:white; font-size:12px; }
  section { border:none; padding:0; margin:0 0 12px; } section:not(:first-of-type) { break-before:page; }
  .panel, .chart, .tile, table { break-inside:avoid; }
  .agenda, .dq { border:none; padding:0; }
  a { color:inherit; text-decoration:none; }
  .modebar { display:none !important; }
}
"""
