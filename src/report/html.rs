//! `report.html`: one self-contained page (inline CSS, a few lines of inline JS, inline
//! SVG charts; nothing is fetched). Every piece of document text, id, outlet and
//! parameter goes through `Esc`: the texts are scraped pages and may hold markup.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use super::{DocView, NO_OUTLET, Report, SIDE_BY_SIDE_PER_CLUSTER, Shown, days};
use crate::output::schema::ClusterMember;
use crate::provenance::Provenance;

/// HTML-escaped text (element content and quoted attribute values alike).
// All five characters everywhere, so no call site has to know whether it writes content or
// an attribute, or which quote the attribute uses; `&#39;` because `&apos;` is not HTML 4.
// A `Display` wrapper so a value is escaped as it is written into the page, with no
// escaped copy of every document text held on the side.
pub(crate) struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `write!` into a String, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const STYLE: &str = r#"
:root{--ink:#202124;--muted:#5f6368;--line:#dadce0;--kept:#e6f4ea;--kept-b:#188038;
--cut:#fce8e6;--cut-b:#c5221f;--add:#e8f0fe;--add-b:#1967d2;--bp:#f1f3f4;--bp-b:#80868b}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);margin:0 auto;max-width:1320px;padding:16px 24px 48px;background:#fff}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:21px;margin:32px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:17px;margin:18px 0 6px}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
.meta{color:var(--muted);margin:0 0 12px}
nav{background:#f8f9fa;border:1px solid var(--line);border-radius:6px;padding:8px 12px;font-size:14px}
nav a{margin-right:12px}
.notices{background:#fef7e0;border:1px solid #f9ab00;border-radius:6px;padding:8px 14px;margin:12px 0}
.notices h2{border:0;margin:4px 0;font-size:17px}
#js-errors{background:var(--cut);border:1px solid var(--cut-b);padding:8px;white-space:pre-wrap}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(118px,1fr));gap:6px}
.fig{border:1px solid var(--line);border-radius:6px;padding:5px 8px}
.fig b{display:block;font-size:19px;font-variant-numeric:tabular-nums}
.fig span{color:var(--muted);font-size:12px;line-height:1.25;display:block}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f8f9fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.params{columns:2;column-gap:24px}
.params div{break-inside:avoid;font-size:13px}
.scroll{overflow-x:auto;max-width:100%}
table.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);max-height:170px;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-weight:600;vertical-align:bottom}
table.matrix td{text-align:center;min-width:30px;font-variant-numeric:tabular-nums}
table.matrix th.row{white-space:nowrap;max-width:220px;overflow:hidden;text-overflow:ellipsis}
.cluster{border:1px solid var(--line);border-radius:8px;padding:4px 16px 12px;margin:18px 0}
.cluster h3 a{color:inherit;text-decoration:none}
.badge{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 7px;margin:0 3px 2px 0;
font-size:12px;background:#f8f9fa;white-space:nowrap}
.badge.rel{background:#e8eaed;font-weight:600}.badge.weak{background:#fef7e0;border-color:#f9ab00}
tr.original td{background:#f8f9fa;font-weight:600}
details.copy{border-top:1px solid var(--line);padding:6px 0}
details.copy>summary{cursor:pointer}
.legend{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 4px;font-size:13px}
.legend>span{padding:1px 8px;border-radius:4px;border-left:5px solid transparent}
.legend>span.removed{border-left-style:dashed}
.sbs{display:grid;grid-template-columns:1fr 1fr;gap:4px 14px;margin-top:8px}
.sbs .head{font-weight:600;font-size:13px;color:var(--muted);border-bottom:1px solid var(--line)}
.p{border-left:5px solid transparent;padding:4px 8px;white-space:pre-wrap;overflow-wrap:anywhere;
font-size:14px;border-radius:3px;min-width:0}
.p.empty{border:0}
.tag{display:inline-block;font:600 11px/1.6 system-ui,sans-serif;letter-spacing:.03em;margin-right:6px;
padding:0 5px;border-radius:3px;background:#fff;border:1px solid currentColor;white-space:nowrap}
.kept{background:var(--kept);border-left-color:var(--kept-b)}.kept .tag{color:var(--kept-b)}
.cut{background:var(--cut);border-left-color:var(--cut-b)}.cut .tag{color:var(--cut-b)}
.added{background:var(--add);border-left-color:var(--add-b)}.added .tag{color:var(--add-b)}
.removed{background:var(--bp);border-left-color:var(--bp-b);border-left-style:dashed;color:#5f6368}.removed .tag{color:#5f6368}
.missing{color:var(--muted);font-style:italic}
svg text{font-family:system-ui,sans-serif}
footer{margin-top:32px;color:var(--muted);font-size:13px}
@media print{body{max-width:none;padding:0;font-size:12px}nav,#js-errors{display:none}
.cluster{break-inside:auto}.sbs>div{break-inside:avoid}a{color:inherit;text-decoration:none}
.scroll{overflow:visible}}
"#;

/// Records script errors into the page (the headless check reads them back) and opens
/// every collapsed copy before printing.
// In <head>, so the listener is there before any later script or chart can fail.
const HEAD_SCRIPT: &str = r"
window.reportErrors=[];
window.addEventListener('error',function(e){window.reportErrors.push(String(e.message||e));});
window.addEventListener('beforeprint',function(){
document.querySelectorAll('details').forEach(function(d){d.open=true;});});
";

/// Marks a complete render: `data-rendered="ok"` on <body> when the end of the page was
/// reached, every chart is there and no script error happened; the errors otherwise.
// Why the page checks itself: a headless browser's `--dump-dom` gives the DOM but not the
// console, so the verdict is written into the DOM for `scripts/check-report.sh` to grep.
// Charts are counted because an SVG the parser drops (bad markup) raises no script error;
// `data-charts` is the count the Rust side wrote, so a missing one shows as `charts: n of m`.
const TAIL_SCRIPT: &str = r"
window.addEventListener('load',function(){
var charts=document.querySelectorAll('svg.chart').length;
var want=Number(document.body.getAttribute('data-charts'));
if(charts!==want){window.reportErrors.push('charts: '+charts+' of '+want);}
var box=document.getElementById('js-errors');
if(window.reportErrors.length){box.hidden=false;
window.reportErrors.forEach(function(m){var d=document.createElement('div');d.className='js-error';d.textContent=m;box.appendChild(d);});
document.body.setAttribute('data-rendered','error');}else{document.body.setAttribute('data-rendered','ok');}
});
";

pub(crate) fn render(r: &Report) -> String {
    let mut o = String::with_capacity(1 << 20);
    let dir = r.dir.display().to_string();
    // the size histogram, and a timeline for each shown cluster with a date
    let charts = 1 + r
        .shown
        .iter()
        .filter(|s| has_dates(&s.line.members))
        .count();
    w!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>neardup report: {}</title><style>{STYLE}</style><script>{HEAD_SCRIPT}</script>\
         </head>\n<body data-charts=\"{charts}\">\n",
        Esc(&dir)
    );
    w!(
        o,
        "<header><h1>Near-duplicates and syndication</h1><p class=\"meta\">Run in <code>{}</code> \
         · neardup {} · summary format {}</p></header>\n<div id=\"js-errors\" hidden></div>\n",
        Esc(&dir),
        Esc(&r.figure("/neardup_version")),
        Esc(&r.figure("/format_version"))
    );
    if !r.notices.is_empty() {
        o.push_str("<section class=\"notices\"><h2>Notices</h2><ul>");
        for n in &r.notices {
            w!(o, "<li>{}</li>", Esc(n));
        }
        o.push_str("</ul></section>\n");
    }
    o.push_str(
        "<nav><a href=\"#summary\">Summary</a><a href=\"#sizes\">Cluster sizes</a>\
         <a href=\"#outlets\">Who republished whom</a><a href=\"#clusters\">Clusters</a></nav>\n",
    );
    summary(&mut o, r);
    sizes(&mut o, r);
    matrix(&mut o, r);
    clusters(&mut o, r);
    w!(
        o,
        "<footer>Written by <code>neardup report</code> from docs.jsonl, clusters.jsonl and \
         summary.json; texts re-read from the inputs. syndication.csv has one row per copy; \
         report.md the same tables as text.</footer>\n<script>{TAIL_SCRIPT}</script>\n</body></html>\n"
    );
    o
}

fn fig(o: &mut String, value: &str, label: &str) {
    w!(
        o,
        "<div class=\"fig\"><b>{}</b><span>{}</span></div>",
        Esc(value),
        Esc(label)
    );
}

fn summary(o: &mut String, r: &Report) {
    o.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"figures\">");
    for (ptr, label) in [
        ("/counts/records", "records read"),
        ("/counts/compared", "compared"),
        ("/counts/empty", "empty (kept, not compared)"),
        ("/counts/clusters", "clusters"),
        ("/counts/docs_in_clusters", "records in clusters"),
        ("/counts/duplicates", "duplicates (copies)"),
        ("/counts/kept", "kept"),
        ("/verification/by_containment", "matched by containment"),
        ("/verification/split_off", "split off (star check)"),
        ("/verification/weak_links", "weak links"),
        ("/counts/duplicate_ids", "duplicate ids"),
        ("/counts/dates_not_iso", "dates not ISO"),
    ] {
        fig(o, &r.figure(ptr), label);
    }
    let skipped = r.skipped();
    let total: u64 = skipped
        .iter()
        .filter_map(|(_, n)| n.parse::<u64>().ok())
        .sum();
    fig(o, &total.to_string(), "skipped");
    o.push_str("</div>");
    if !skipped.is_empty() {
        o.push_str("<h3>Skipped records by reason</h3><table><tr><th>reason</th><th class=\"n\">records</th></tr>");
        for (reason, n) in &skipped {
            w!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                Esc(reason),
                Esc(n)
            );
        }
        o.push_str("</table>");
    }
    if !r.relations.is_empty() {
        o.push_str("<h3>How copies relate to their original</h3><table><tr><th>relation</th><th class=\"n\">copies</th></tr>");
        for (rel, n) in &r.relations {
            w!(o, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", Esc(rel));
        }
        w!(
            o,
            "<tr><td>of which weak links</td><td class=\"n\">{}</td></tr></table>",
            r.weak_copies
        );
    }
    o.push_str("<h3>Paragraph stage</h3><div class=\"figures\">");
    for (ptr, label) in super::PARAGRAPH_FIGURES {
        fig(o, &r.figure(ptr), label);
    }
    o.push_str("</div><details><summary>Parameters of the run</summary><div class=\"params\">");
    for (k, v) in r.params() {
        w!(
            o,
            "<div><code>{}</code> = <code>{}</code></div>",
            Esc(&k),
            Esc(&v)
        );
    }
    o.push_str("</div></details></section>\n");
}

/// Histogram bins: every size up to 10, then ranges.
fn bin_of(size: usize) -> (usize, &'static str) {
    const RANGES: [(usize, &str); 6] = [
        (20, "11–20"),
        (50, "21–50"),
        (100, "51–100"),
        (1000, "101–1000"),
        (10_000, "1001–10000"),
        (usize::MAX, ">10000"),
    ];
    if size <= 10 {
        return (size, "");
    }
    let k = RANGES
        .iter()
        .position(|(hi, _)| size <= *hi)
        .expect("the last range is unbounded");
    (11 + k, RANGES[k].1)
}

fn sizes(o: &mut String, r: &Report) {
    o.push_str("<section id=\"sizes\"><h2>Cluster sizes</h2>");
    let mut bins: BTreeMap<usize, (String, u64)> = BTreeMap::new();
    for (&size, &n) in &r.sizes {
        let (k, label) = bin_of(size);
        let label = if label.is_empty() {
            size.to_string()
        } else {
            label.to_owned()
        };
        bins.entry(k).or_insert((label, 0)).1 += n;
    }
    let max = bins.values().map(|b| b.1).max().unwrap_or(0).max(1);
    let (bar, gap, h, top, bottom, left) = (44.0, 14.0, 130.0, 22.0, 40.0, 10.0);
    let width = left * 2.0 + bins.len().max(1) as f64 * (bar + gap);
    w!(
        o,
        "<p>{} clusters of two or more records; bars count clusters by their size (records \
         in the cluster, original included).</p><div class=\"scroll\"><svg class=\"chart\" \
         role=\"img\" aria-label=\"histogram of cluster sizes\" width=\"{width:.0}\" \
         height=\"{:.0}\" viewBox=\"0 0 {width:.0} {:.0}\">",
        r.clusters,
        top + h + bottom,
        top + h + bottom
    );
    w!(
        o,
        "<line x1=\"{left}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#80868b\"/>",
        top + h,
        width - left,
        top + h
    );
    for (i, (label, n)) in bins.values().enumerate() {
        let x = left + i as f64 * (bar + gap) + gap / 2.0;
        let bh = (*n as f64 / max as f64 * h).max(1.0);
        let y = top + h - bh;
        w!(
            o,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"#1967d2\">\
             <title>size {}: {n} clusters</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{n}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{}</text>",
            Esc(label),
            x + bar / 2.0,
            y - 5.0,
            x + bar / 2.0,
            top + h + 16.0,
            Esc(label)
        );
    }
    w!(
        o,
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#5f6368\">\
         cluster size (records)</text></svg></div></section>\n",
        width / 2.0,
        top + h + 34.0
    );
}

fn matrix(o: &mut String, r: &Report) {
    let m = &r.matrix;
    o.push_str("<section id=\"outlets\"><h2>Who republished whom</h2>");
    if m.outlets.is_empty() {
        o.push_str("<p>No copies.</p></section>\n");
        return;
    }
    w!(
        o,
        "<p>Rows: outlet of the original; columns: outlet of the copy; cells: number of \
         copies. The diagonal is an outlet republishing its own story. Limited to the {} \
         outlets with the most copies (as original or copy) of {} outlets; {} copies involve \
         an outlet not shown. Outlets without a name are <i>{}</i>.</p>",
        m.outlets.len(),
        m.total_outlets,
        m.copies_not_shown,
        Esc(NO_OUTLET)
    );
    let cell = |a: &String, b: &String| m.cells.get(&(a.clone(), b.clone())).copied().unwrap_or(0);
    let max = m
        .outlets
        .iter()
        .flat_map(|a| m.outlets.iter().map(move |b| (a, b)))
        .map(|(a, b)| cell(a, b))
        .max()
        .unwrap_or(0)
        .max(1);
    o.push_str("<div class=\"scroll\"><table class=\"matrix\"><tr><th>original ↓ / copy →</th>");
    for b in &m.outlets {
        w!(o, "<th class=\"col\" title=\"{}\">{}</th>", Esc(b), Esc(b));
    }
    o.push_str("<th class=\"n\">row total</th></tr>");
    for a in &m.outlets {
        w!(
            o,
            "<tr><th class=\"row\" title=\"{}\">{}</th>",
            Esc(a),
            Esc(a)
        );
        let mut total = 0;
        for b in &m.outlets {
            let n = cell(a, b);
            total += n;
            if n == 0 {
                o.push_str("<td></td>");
            } else {
                // shade by share of the largest cell; white digits once the blue is dark
                let alpha = 0.12 + 0.78 * n as f64 / max as f64;
                let ink = if alpha > 0.5 { "#fff" } else { "#202124" };
                w!(
                    o,
                    "<td style=\"background:rgba(25,103,210,{alpha:.2});color:{ink}\" \
                     title=\"{} → {}: {n}\">{n}</td>",
                    Esc(a),
                    Esc(b)
                );
            }
        }
        w!(o, "<td class=\"n\">{total}</td></tr>");
    }
    o.push_str("</table></div></section>\n");
}

fn has_dates(members: &[ClusterMember<'_>]) -> bool {
    members
        .iter()
        .any(|m| m.date.as_deref().and_then(days).is_some())
}

fn clusters(o: &mut String, r: &Report) {
    o.push_str("<section id=\"clusters\"><h2>Clusters</h2>");
    w!(
        o,
        "<p>{} of {} clusters shown, largest first{}. For each copy: its relation to the \
         original, exact Jaccard (J), containment (C: shared shingles over the smaller \
         document), how many of the original's compared paragraphs it kept, and its text \
         beside the original's. At most {SIDE_BY_SIDE_PER_CLUSTER} copies per cluster are \
         shown side by side.</p>",
        r.shown.len(),
        r.clusters,
        if r.omitted() > 0 {
            format!(
                "; {} omitted (raise <code>--max-clusters</code> to see them)",
                r.omitted()
            )
        } else {
            String::new()
        }
    );
    o.push_str(
        "<div class=\"legend\"><b>Legend:</b>\
         <span class=\"kept\"><span class=\"tag\">KEPT</span>in both</span>\
         <span class=\"cut\"><span class=\"tag\">CUT</span>original only</span>\
         <span class=\"added\"><span class=\"tag\">ADDED</span>copy only</span>\
         <span class=\"removed\"><span class=\"tag\">BOILERPLATE</span>/<span class=\"tag\">REPEAT</span>\
         left out of the comparison</span>\
         <span>Paragraphs are numbered from ¶1 (the JSONL outputs count from 0).</span></div>",
    );
    for (k, s) in r.shown.iter().enumerate() {
        cluster(o, s, k == 0);
    }
    o.push_str("</section>\n");
}

fn badges(o: &mut String, p: &Provenance) {
    w!(
        o,
        "<span class=\"badge rel\">{}</span><span class=\"badge\">J {:.3}</span>\
         <span class=\"badge\">C {:.3}</span><span class=\"badge\">kept {}/{} ¶</span>",
        Esc(p.relation.as_str()),
        p.jaccard,
        p.containment(),
        p.kept_paragraphs,
        p.original_paragraphs
    );
    if p.weak {
        o.push_str("<span class=\"badge weak\">weak link</span>");
    }
}

fn outlet<'a>(m: &'a ClusterMember<'_>) -> &'a str {
    m.outlet.as_deref().unwrap_or(NO_OUTLET)
}

/// Members by date (undated last), then id.
fn by_date<'a, 'b>(members: &'a [ClusterMember<'b>]) -> Vec<&'a ClusterMember<'b>> {
    fn key<'m>(m: &'m ClusterMember<'_>) -> (i64, &'m str) {
        (m.date.as_deref().and_then(days).unwrap_or(i64::MAX), &m.id)
    }
    let mut v: Vec<&ClusterMember<'_>> = members.iter().collect();
    v.sort_by(|a, b| key(a).cmp(&key(b)));
    v
}

fn cluster(o: &mut String, s: &Shown, first: bool) {
    let c = &s.line;
    let rep = c.original();
    w!(
        o,
        "<article class=\"cluster\" id=\"c{}\"><h3><a href=\"#c{}\">Cluster {}</a> · {} records · \
         original <span class=\"id\">{}</span></h3>",
        c.cluster,
        c.cluster,
        c.cluster,
        c.size,
        Esc(&c.representative)
    );
    if let Some(rep) = rep {
        w!(
            o,
            "<p>Original: <b>{}</b>, {} (<span class=\"id\">{}</span>)",
            Esc(outlet(rep)),
            Esc(rep.date.as_deref().unwrap_or("undated")),
            Esc(&rep.id)
        );
    }
    if !c.weak_links.is_empty() {
        w!(
            o,
            " <span class=\"badge weak\">{} weak link(s)</span>",
            c.weak_links.len()
        );
    }
    if !c.split_off.is_empty() {
        o.push_str(" <span class=\"badge\">split off by the star check:");
        for id in &c.split_off {
            w!(o, " {}", Esc(id));
        }
        o.push_str("</span>");
    }
    o.push_str("</p>");
    timeline(o, c.cluster, &c.members, rep);
    o.push_str(
        "<div class=\"scroll\"><table><tr><th>date</th><th>outlet</th><th>id</th><th>role</th>\
         <th>relation</th><th class=\"n\">J</th><th class=\"n\">C</th><th class=\"n\">kept ¶</th>\
         <th>cut ¶ (original)</th><th>added ¶ (copy)</th><th>weak</th></tr>",
    );
    for m in by_date(&c.members) {
        let original = rep.is_some_and(|r| std::ptr::eq(r, m));
        w!(
            o,
            "<tr{}><td>{}</td><td>{}</td><td class=\"id\">{}</td><td>{}</td>",
            if original { " class=\"original\"" } else { "" },
            Esc(m.date.as_deref().unwrap_or("–")),
            Esc(outlet(m)),
            Esc(&m.id),
            if original { "original" } else { "copy" }
        );
        match &m.provenance {
            Some(p) => w!(
                o,
                "<td>{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td>\
                 <td class=\"n\">{}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                Esc(p.relation.as_str()),
                p.jaccard,
                p.containment(),
                p.kept_paragraphs,
                p.original_paragraphs,
                numbers(&p.cut_paragraphs),
                numbers(&p.added_paragraphs),
                if p.weak { "weak link" } else { "" }
            ),
            None => o.push_str("<td colspan=\"7\"></td></tr>"),
        }
    }
    o.push_str("</table></div>");
    let original = s.doc(c.original_index());
    for (k, (place, m)) in c.copies().enumerate() {
        if k == SIDE_BY_SIDE_PER_CLUSTER {
            w!(
                o,
                "<p class=\"missing\">{} more copies are in the table above, not shown side by side.</p>",
                c.size - 1 - SIDE_BY_SIDE_PER_CLUSTER
            );
            break;
        }
        // the first copies of the first cluster open, so the page shows what it is at once
        let open = if k < 2 && first { " open" } else { "" };
        w!(
            o,
            "<details class=\"copy\"{open}><summary>Copy <span class=\"id\">{}</span> — <b>{}</b>, {} ",
            Esc(&m.id),
            Esc(outlet(m)),
            Esc(m.date.as_deref().unwrap_or("undated"))
        );
        if let Some(p) = &m.provenance {
            badges(o, p);
        }
        o.push_str("</summary>");
        side_by_side(o, original, s.doc(Some(place)), m.provenance.as_deref());
        o.push_str("</details>");
    }
    o.push_str("</article>\n");
}

/// 1-based paragraph numbers, as the page shows them.
pub(crate) fn numbers(indices: &[u32]) -> String {
    indices
        .iter()
        .map(|i| format!("¶{}", i + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

fn timeline(
    o: &mut String,
    cluster: u64,
    members: &[ClusterMember<'_>],
    representative: Option<&ClusterMember<'_>>,
) {
    // one row per member would make a cluster of thousands a page-long chart; the axis
    // still spans every dated member, and the table below lists them all
    const MAX_ROWS: usize = 40;
    if !has_dates(members) {
        o.push_str("<p class=\"missing\">No dates: no timeline.</p>");
        return;
    }
    let dated: Vec<(&ClusterMember<'_>, i64)> = by_date(members)
        .into_iter()
        .filter_map(|m| m.date.as_deref().and_then(days).map(|d| (m, d)))
        .collect();
    let (lo, hi) = (dated[0].1, dated[dated.len() - 1].1);
    let rows = dated.len().min(MAX_ROWS);
    let (left, plot, row, top) = (250.0, 560.0, 18.0, 8.0);
    let height = top + rows as f64 * row + 30.0;
    let width = left + plot + 30.0;
    w!(
        o,
        "<svg class=\"chart\" role=\"img\" aria-label=\"timeline of cluster {cluster}\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">"
    );
    let x = |d: i64| {
        if hi == lo {
            left + plot / 2.0
        } else {
            left + (d - lo) as f64 / (hi - lo) as f64 * plot
        }
    };
    for (i, (m, d)) in dated.iter().take(rows).enumerate() {
        let y = top + i as f64 * row + row / 2.0;
        let original = representative.is_some_and(|r| std::ptr::eq(r, *m));
        let mut label: String = outlet(m).chars().take(34).collect();
        if label.len() < outlet(m).len() {
            label.push('…');
        }
        w!(
            o,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.0}\" y2=\"{y:.1}\" stroke=\"#eceff1\"/>\
             <text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\"{}>{}</text>",
            left + plot,
            left - 8.0,
            y + 4.0,
            if original { " font-weight=\"700\"" } else { "" },
            Esc(&label)
        );
        let weak = m.provenance.as_deref().is_some_and(|p| p.weak);
        if original {
            w!(
                o,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"#202124\">\
                 <title>original {} {}</title></rect>",
                x(*d) - 5.0,
                y - 5.0,
                Esc(&m.id),
                Esc(m.date.as_deref().unwrap_or(""))
            );
        } else {
            w!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" stroke=\"#1967d2\" stroke-width=\"2\">\
                 <title>copy {} {}</title></circle>",
                x(*d),
                if weak { "#fff" } else { "#1967d2" },
                Esc(&m.id),
                Esc(m.date.as_deref().unwrap_or(""))
            );
        }
    }
    let axis = top + rows as f64 * row + 6.0;
    let date_of = |want: i64| {
        dated
            .iter()
            .find(|(_, d)| *d == want)
            .and_then(|(m, _)| m.date.as_deref())
            .map_or(String::new(), |s| s.chars().take(10).collect())
    };
    w!(
        o,
        "<line x1=\"{left}\" y1=\"{axis:.1}\" x2=\"{:.0}\" y2=\"{axis:.1}\" stroke=\"#80868b\"/>\
         <text x=\"{left}\" y=\"{:.1}\" font-size=\"12\" fill=\"#5f6368\">{}</text>\
         <text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#5f6368\">{}</text>",
        left + plot,
        axis + 16.0,
        Esc(&date_of(lo)),
        left + plot,
        axis + 16.0,
        Esc(&date_of(hi))
    );
    o.push_str("</svg>");
    let undated = members.len() - dated.len();
    if dated.len() > rows || undated > 0 {
        w!(
            o,
            "<p class=\"missing\">Timeline: {} of {} members ({} undated; the table lists all).</p>",
            rows,
            members.len(),
            undated
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// In both documents (kept on the original's side, taken over on the copy's).
    Kept,
    Cut,
    Added,
    Boilerplate,
    Repeat(u32),
}

fn mark(doc: &DocView, i: u32, changed: &[u32], change: Mark) -> Mark {
    if doc.boilerplate.contains(&i) {
        Mark::Boilerplate
    } else if let Some(&of) = doc.repeats.get(&i) {
        Mark::Repeat(of)
    } else if changed.binary_search(&i).is_ok() {
        change
    } else {
        Mark::Kept
    }
}

fn paragraph(o: &mut String, doc: &DocView, i: u32, m: Mark, side: &str) {
    let (class, tag) = match m {
        Mark::Kept => ("kept", "KEPT".to_owned()),
        Mark::Cut => ("cut", "CUT".to_owned()),
        Mark::Added => ("added", "ADDED".to_owned()),
        Mark::Boilerplate => ("removed", "BOILERPLATE".to_owned()),
        Mark::Repeat(of) => ("removed", format!("REPEAT of ¶{}", of + 1)),
    };
    w!(
        o,
        "<div class=\"p {class}\" aria-label=\"{side} paragraph {}\"><span class=\"tag\">¶{} {}</span>{}</div>",
        i + 1,
        i + 1,
        Esc(&tag),
        Esc(doc.paragraph(i as usize).unwrap_or(""))
    );
}

/// The original's paragraphs beside the copy's. Rows pair the next paragraph of each side
/// in order, so a copy that kept the original's order lines up; paragraphs merged or split
/// by the copy can shift a row, but every paragraph carries its own mark.
fn side_by_side(
    o: &mut String,
    original: Option<&DocView>,
    copy: Option<&DocView>,
    p: Option<&Provenance>,
) {
    let (Some(orig), Some(copy), Some(p)) = (
        original.filter(|d| d.text.is_some()),
        copy.filter(|d| d.text.is_some()),
        p,
    ) else {
        w!(
            o,
            "<p class=\"missing\">Text not available (see the notices at the top). Cut \
             paragraphs of the original: {}; added paragraphs of the copy: {}.</p>",
            Esc(&or_none(&numbers(p.map_or(&[], |p| &p.cut_paragraphs)))),
            Esc(&or_none(&numbers(p.map_or(&[], |p| &p.added_paragraphs))))
        );
        return;
    };
    // `mark` binary-searches these; they come from clusters.jsonl as read back, so they
    // are sorted here rather than trusted to be
    let mut cut = p.cut_paragraphs.clone();
    cut.sort_unstable();
    let mut added = p.added_paragraphs.clone();
    added.sort_unstable();
    let left: Vec<Mark> = (0..orig.spans.len() as u32)
        .map(|i| mark(orig, i, &cut, Mark::Cut))
        .collect();
    let right: Vec<Mark> = (0..copy.spans.len() as u32)
        .map(|i| mark(copy, i, &added, Mark::Added))
        .collect();
    o.push_str(
        "<div class=\"sbs\"><div class=\"head\">Original</div><div class=\"head\">Copy</div>",
    );
    let (mut i, mut j) = (0usize, 0usize);
    let empty = "<div class=\"p empty\"></div>";
    while i < left.len() || j < right.len() {
        let kept = |m: Option<Mark>| m == Some(Mark::Kept);
        let (l, r) = (left.get(i).copied(), right.get(j).copied());
        // kept paragraphs wait for each other; the others fill in beside them
        let (take_l, take_r) = match (l, r) {
            (Some(_), Some(_)) if kept(l) == kept(r) => (true, true),
            (Some(_), Some(_)) => (!kept(l), !kept(r)),
            (l, r) => (l.is_some(), r.is_some()),
        };
        match (take_l, take_r) {
            (true, true) => {
                paragraph(o, orig, i as u32, left[i], "original");
                paragraph(o, copy, j as u32, right[j], "copy");
                i += 1;
                j += 1;
            }
            (true, false) => {
                paragraph(o, orig, i as u32, left[i], "original");
                o.push_str(empty);
                i += 1;
            }
            (false, true) => {
                o.push_str(empty);
                paragraph(o, copy, j as u32, right[j], "copy");
                j += 1;
            }
            (false, false) => unreachable!("one side always advances while either has paragraphs"),
        }
    }
    o.push_str("</div>");
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            Esc("<script>alert('x') & \"y\"</script>").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(Esc("plain ¶ text").to_string(), "plain ¶ text");
    }

    #[test]
    fn size_bins() {
        assert_eq!(bin_of(2), (2, ""));
        assert_eq!(bin_of(10), (10, ""));
        assert_eq!(bin_of(11), (11, "11–20"));
        assert_eq!(bin_of(21), (12, "21–50"));
        assert_eq!(bin_of(5000), (15, "1001–10000"));
    }
}
