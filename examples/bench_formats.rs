//! The input-format benchmark's files (benches/README.md, "Input formats"): one JSONL
//! corpus (`neardup generate` output, or any JSONL with `id`, `text` and optional
//! `outlet`, `date`) written again as Parquet and as a gzipped WARC of HTML pages, so that
//! `neardup dedup` can be timed on the same records in each format:
//!
//!     cargo run --release --example bench_formats -- IN.jsonl OUT_DIR
//!
//! writes `OUT_DIR/corpus.parquet` (columns id, outlet, date, text as strings; zstd; row
//! groups of 16,384 rows, as a dataset exporter cuts them) and `OUT_DIR/corpus.warc.gz`
//! (one gzip member per `response` record, as Common Crawl ships them; each page an HTML5
//! document with a head, a navigation list, the text's paragraphs as `<p>`, a footer, and
//! the outlet's host as the URL's host). It prints the bytes of text and of HTML written,
//! which the MB/s figures divide by. Nothing here is read by neardup itself.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

const ROW_GROUP: usize = 16_384;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out] = args.as_slice() else {
        return Err("usage: bench_formats IN.jsonl OUT_DIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let schema = Arc::new(Schema::new(
        ["id", "outlet", "date", "text"]
            .map(|n| Field::new(n, DataType::Utf8, true))
            .to_vec(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let mut parquet = ArrowWriter::try_new(
        File::create(out.join("corpus.parquet"))?,
        Arc::clone(&schema),
        Some(props),
    )?;
    let mut warc = BufWriter::new(File::create(out.join("corpus.warc.gz"))?);
    let mut builders: [StringBuilder; 4] = Default::default();
    let mut rows = 0usize;
    let (mut text_bytes, mut html_bytes, mut records) = (0u64, 0u64, 0u64);
    for line in BufReader::new(File::open(input)?).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: BTreeMap<String, serde_json::Value> = serde_json::from_str(&line)?;
        let field = |name: &str| record.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (id, outlet, date) = (field("id"), field("outlet"), field("date"));
        let text = field("text").unwrap_or_default();
        for (b, v) in builders.iter_mut().zip([&id, &outlet, &date]) {
            b.append_option(v.as_deref());
        }
        builders[3].append_value(&text);
        rows += 1;
        if rows == ROW_GROUP {
            write_batch(&mut parquet, &schema, &mut builders)?;
            rows = 0;
        }
        text_bytes += text.len() as u64;
        records += 1;
        let html = page(outlet.as_deref().unwrap_or("news"), &text);
        html_bytes += html.len() as u64;
        let id = id.unwrap_or_else(|| format!("r{records}"));
        let host = host(outlet.as_deref().unwrap_or("news"));
        let uri = format!("https://{host}/{id}");
        let record = response(&id, &uri, date.as_deref(), html.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&record)?;
        warc.write_all(&gz.finish()?)?;
    }
    if rows > 0 {
        write_batch(&mut parquet, &schema, &mut builders)?;
    }
    parquet.close()?;
    warc.flush()?;
    println!("records {records} text_bytes {text_bytes} html_bytes {html_bytes}");
    Ok(())
}

fn write_batch(
    writer: &mut ArrowWriter<File>,
    schema: &Arc<Schema>,
    builders: &mut [StringBuilder; 4],
) -> Result<(), Box<dyn std::error::Error>> {
    let columns: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    writer.write(&RecordBatch::try_new(Arc::clone(schema), columns)?)?;
    writer.flush()?;
    Ok(())
}

/// A host for an outlet name: its letters and digits, lowercased, dashes between.
fn host(outlet: &str) -> String {
    let slug: String = outlet
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{slug}.example")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The page of an article as a news site serves it: a head with a script and a style
/// (dropped by the extractor), navigation, the paragraphs, a footer.
fn page(outlet: &str, text: &str) -> String {
    let outlet = escape(outlet);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{outlet}</title>\
         <style>body {{ font-family: serif; }} nav li {{ display: inline; }}</style>\
         <script>window.dataLayer = window.dataLayer || []; function track() {{ return 1; }}</script>\
         </head><body><header><nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/world\">World</a>\
         </li><li><a href=\"/business\">Business</a></li><li><a href=\"/sport\">Sport</a></li></ul>\
         </nav></header><main><article>\n"
    );
    for paragraph in text.split("\n\n") {
        html.push_str("<p>");
        html.push_str(&escape(paragraph));
        html.push_str("</p>\n");
    }
    html.push_str("</article></main><footer><p>&copy; ");
    html.push_str(&outlet);
    html.push_str(". All rights reserved.</p></footer></body></html>\n");
    html
}

/// One WARC/1.1 `response` record holding an HTTP 200 response with `html`.
fn response(id: &str, uri: &str, date: Option<&str>, html: &[u8]) -> Vec<u8> {
    let mut block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n".to_vec();
    block.extend_from_slice(html);
    let date = date.map_or_else(
        || "2024-12-10T08:00:00Z".to_owned(),
        |d| format!("{d}T08:00:00Z"),
    );
    let mut out = format!(
        "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:neardup:{id}>\r\n\
         WARC-Target-URI: {uri}\r\nWARC-Date: {date}\r\n\
         Content-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    out.extend_from_slice(&block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}
