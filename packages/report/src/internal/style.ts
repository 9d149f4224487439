/** The page's only style sheet, inlined: system fonts, no web fonts, print rules for A4 and Letter. */
export const css = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #59636e; --line: #d5dbe1; --soft: #f4f6f8; --bad: #c8374a; --good: #2d7a46; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main, header.page, footer.page { max-width: 960px; margin: 0 auto; padding: 0 24px; }
header.page { padding-top: 28px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 0 0 4px; }
p { margin: 4px 0 10px; }
.muted, figcaption, caption { color: var(--muted); }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; }
dl.details dt { color: var(--muted); }
dl.details dd { margin: 0; overflow-wrap: anywhere; }
section { margin: 28px 0; }
.cards { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--soft); }
.card dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card dd { margin: 2px 0 0; }
.card .value { display: block; font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .delta { font-size: 12px; color: var(--muted); }
.delta.worse { color: var(--bad); }
.delta.better { color: var(--good); }
figure { margin: 10px 0 8px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; margin-top: 4px; }
.key { font-size: 12px; color: var(--muted); margin: 4px 0; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
.swatch.dot { border-radius: 50%; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-size: 12px; padding: 0 0 4px; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--line); font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
tfoot th, tfoot td { font-weight: 600; background: var(--soft); }
tbody th { font-weight: normal; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); overflow-wrap: anywhere; }
.label + code { margin-left: 6px; }
.message { overflow-wrap: anywhere; }
table.hours { font-size: 12px; }
table.hours td, table.hours th { padding: 2px 6px; }
.empty { padding: 12px; border: 1px dashed var(--line); border-radius: 8px; color: var(--muted); }
footer.page { padding-bottom: 32px; font-size: 12px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 12px; }
@media (max-width: 720px) { .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@page { margin: 12mm; }
@media print {
  body { font-size: 10pt; }
  main, header.page, footer.page { max-width: none; padding: 0; }
  header.page { padding-top: 0; }
  section { margin: 14pt 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .keep, figure, .cards, .card { break-inside: avoid; page-break-inside: avoid; }
  .keep { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: 8.5pt; }
  .card { background: none; }
  .cards { grid-template-columns: repeat(4, minmax(0, 1fr)); }
}
`
