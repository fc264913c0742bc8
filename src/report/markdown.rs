//! `report.md`: the summary, the outlet matrix and a table of copies per shown cluster,
//! with the first words of each cut and added paragraph instead of the texts. Document
//! text is escaped for Markdown tables, and `<`/`>`/`&` become entities, because many
//! Markdown renderers pass raw HTML through.

use std::fmt::Write;

use super::{DocView, NO_OUTLET, Report, Shown};

macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Words of a paragraph quoted in the table.
const FIRST_WORDS: usize = 8;

/// Text safe inside a Markdown table cell: one line, pipes and emphasis escaped, no markup.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn first_words(doc: Option<&DocView>, i: u32) -> String {
    let Some(text) = doc.and_then(|d| d.paragraph(i as usize)) else {
        return format!("¶{}", i + 1);
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let more = if words.len() > FIRST_WORDS {
        " …"
    } else {
        ""
    };
    format!(
        "¶{} “{}{more}”",
        i + 1,
        words[..words.len().min(FIRST_WORDS)].join(" ")
    )
}

pub(crate) fn render(r: &Report) -> String {
    let mut o = String::new();
    w!(
        o,
        "# Near-duplicates and syndication\n\nRun in `{}` · neardup {}\n\n",
        r.dir.display(),
        r.figure("/neardup_version")
    );
    for n in &r.notices {
        w!(o, "> **Notice:** {}\n>\n", cell(n));
    }
    if !r.notices.is_empty() {
        o.push('\n');
    }
    o.push_str("## Summary\n\n| figure | value |\n|---|--:|\n");
    for (ptr, label) in [
        ("/counts/records", "records read"),
        ("/counts/compared", "compared"),
        ("/counts/empty", "empty"),
        ("/counts/clusters", "clusters"),
        ("/counts/docs_in_clusters", "records in clusters"),
        ("/counts/duplicates", "duplicates (copies)"),
        ("/counts/kept", "kept"),
        ("/verification/by_containment", "matched by containment"),
        ("/verification/split_off", "split off"),
        ("/verification/weak_links", "weak links"),
    ]
    .into_iter()
    .chain(super::PARAGRAPH_FIGURES)
    {
        w!(o, "| {label} | {} |\n", cell(&r.figure(ptr)));
    }
    for (reason, n) in r.skipped() {
        w!(o, "| skipped: {} | {} |\n", cell(&reason), cell(&n));
    }
    for (rel, n) in &r.relations {
        w!(o, "| copies {} | {n} |\n", cell(rel));
    }
    o.push_str("\nParameters: ");
    let params: Vec<String> = r
        .params()
        .iter()
        .map(|(k, v)| format!("`{k}`={}", cell(v)))
        .collect();
    o.push_str(&params.join(", "));
    o.push_str("\n\n## Who republished whom\n\n");
    let m = &r.matrix;
    if m.outlets.is_empty() {
        o.push_str("No copies.\n");
    } else {
        w!(
            o,
            "Rows: outlet of the original; columns: outlet of the copy (numbered as the rows); \
             cells: copies. Limited to the {} outlets with the most copies of {}; {} copies \
             involve an outlet not shown.\n\n| # | original ↓ / copy → |",
            m.outlets.len(),
            m.total_outlets,
            m.copies_not_shown
        );
        for k in 1..=m.outlets.len() {
            w!(o, " {k} |");
        }
        o.push_str("\n|--:|---|");
        o.push_str(&"--:|".repeat(m.outlets.len()));
        o.push('\n');
        for (k, a) in m.outlets.iter().enumerate() {
            w!(o, "| {} | {} |", k + 1, cell(a));
            for b in &m.outlets {
                match m.cells.get(&(a.clone(), b.clone())) {
                    Some(n) => w!(o, " {n} |"),
                    None => o.push_str("  |"),
                }
            }
            o.push('\n');
        }
    }
    w!(
        o,
        "\n## Clusters\n\n{} of {} clusters shown, largest first; {} omitted. Paragraphs are \
         numbered from ¶1 (the JSONL outputs count from 0).\n",
        r.shown.len(),
        r.clusters,
        r.omitted()
    );
    for s in &r.shown {
        cluster(&mut o, s);
    }
    o
}

fn cluster(o: &mut String, s: &Shown) {
    let c = &s.line;
    let rep = c.original();
    w!(
        o,
        "\n### Cluster {} · {} records\n\nOriginal: `{}`, {}, {}\n",
        c.cluster,
        c.size,
        c.representative.replace('`', "'"),
        cell(rep.and_then(|m| m.outlet.as_deref()).unwrap_or(NO_OUTLET)),
        cell(rep.and_then(|m| m.date.as_deref()).unwrap_or("undated"))
    );
    if !c.weak_links.is_empty() {
        w!(o, "\nWeak links: {}\n", cell(&c.weak_links.join(", ")));
    }
    if !c.split_off.is_empty() {
        w!(o, "\nSplit off: {}\n", cell(&c.split_off.join(", ")));
    }
    o.push_str(
        "\n| copy | outlet | date | relation | J | C | kept ¶ | cut (original) | added (copy) |\n\
         |---|---|---|---|--:|--:|--:|---|---|\n",
    );
    let original = s.doc(c.original_index());
    for (place, m) in c.copies() {
        w!(
            o,
            "| {} | {} | {} |",
            cell(&m.id),
            cell(m.outlet.as_deref().unwrap_or(NO_OUTLET)),
            cell(m.date.as_deref().unwrap_or("–"))
        );
        match &m.provenance {
            Some(p) => {
                let copy = s.doc(Some(place));
                let cut: Vec<String> = p
                    .cut_paragraphs
                    .iter()
                    .map(|&i| first_words(original, i))
                    .collect();
                let added: Vec<String> = p
                    .added_paragraphs
                    .iter()
                    .map(|&i| first_words(copy, i))
                    .collect();
                w!(
                    o,
                    " {}{} | {:.3} | {:.3} | {}/{} | {} | {} |\n",
                    cell(p.relation.as_str()),
                    if p.weak { " (weak link)" } else { "" },
                    p.jaccard,
                    p.containment(),
                    p.kept_paragraphs,
                    p.original_paragraphs,
                    cell(&cut.join("; ")),
                    cell(&added.join("; "))
                );
            }
            None => o.push_str(" | | | | | |\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_inert() {
        assert_eq!(cell("a|b\n<script>*x*"), "a\\|b &lt;script&gt;\\*x\\*");
    }
}
