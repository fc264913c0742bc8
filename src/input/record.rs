//! Turning one raw record into fields: the id, the text, the date and the outlet, or the
//! reason it cannot be used.
//!
//! This runs in the worker threads, so the costly part of every format is here: JSON
//! parsing, and for a WARC record the HTTP response, its content encoding, the charset
//! and the HTML to paragraphs (`html`).

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::html;
use super::warc::{HttpResponse, RecordKind, parse_content_type, sniff_html};
use crate::boilerplate::url_host;
use crate::document::Position;
use crate::error::SkipReason;
use crate::params::{InputParams, WarcStatus};

/// One unparsed record.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Index of the source in the list returned by `expand_inputs`.
    pub source: u32,
    /// Where it stands in the source.
    pub position: Position,
    /// Its bytes, or what the reader already knows of it.
    pub raw: Raw,
}

/// A WARC record that may be a document (`response`, `resource` or `conversion`): the
/// headers its fields come from and its block, parsed in a worker thread.
#[derive(Debug, Clone)]
pub struct WarcDoc {
    /// `Response`, `Resource` or `Conversion`.
    pub kind: RecordKind,
    /// WARC-Record-ID: the record's id.
    pub record_id: Option<String>,
    /// WARC-Target-URI: its URL, whose host is its outlet.
    pub target_uri: Option<String>,
    /// WARC-Date.
    pub date: Option<String>,
    /// The record's Content-Type (the payload's type, for a `resource` record).
    pub content_type: Option<String>,
    /// The block: an HTTP response, a resource's bytes, or WET text.
    pub block: Vec<u8>,
}

/// A record as the reading thread hands it over.
#[derive(Debug, Clone)]
pub enum Raw {
    /// A JSONL line without its line terminator.
    Line(Vec<u8>),
    /// A record longer than `max_doc_bytes`; its bytes were never stored. A plain-text
    /// file still has its id; a JSONL line does not.
    Oversized {
        /// Its length: the whole decompressed file, or the line without its `\n`.
        bytes: u64,
        /// The text file's id; `None` for a JSONL line, whose id was never parsed.
        id: Option<String>,
    },
    /// A plain-text file: one document.
    File {
        /// Its path relative to the directory given, or the path as given.
        id: String,
        /// The whole file, decompressed, not yet checked to be UTF-8.
        bytes: Vec<u8>,
    },
    /// A document handed over by a library caller.
    Document {
        /// The caller's id, used as given.
        id: String,
        /// The text; still held to `max_doc_bytes`.
        text: String,
        /// Publication date; the run keeps it only if it is ISO 8601.
        date: Option<String>,
        /// Outlet name.
        outlet: Option<String>,
    },
    /// A WARC record that may be a document.
    Warc(WarcDoc),
    /// A row of a Parquet or Arrow file: the values of the named columns (`None` for a
    /// null or a column the file does not have).
    Row {
        /// The `--id-field` column's value.
        id: Option<String>,
        /// The `--text-field` column's value.
        text: Option<String>,
        /// The `--date-field` column's value.
        date: Option<String>,
        /// The `--outlet-field` column's value.
        outlet: Option<String>,
        /// The `--url-field` column's value.
        url: Option<String>,
    },
    /// A record the reader could not read (a malformed WARC record, a row of a corrupt
    /// Parquet page): it keeps its place, with the reader's words.
    Unreadable {
        /// Its id, when the reader knows it.
        id: Option<String>,
        /// The status it gets.
        reason: SkipReason,
        /// What the reader said.
        detail: String,
    },
}

impl Raw {
    /// The xxh3-64 digest of the record as read (a line's bytes, a text file's bytes, a
    /// document's id and text), to tell whether a record read a second time is the same
    /// one byte for byte (`--emit-clean`). An oversized record's bytes were never stored:
    /// its digest is that of its length. For a WARC record, a row or an unreadable record
    /// it is the digest of the fields the reader took from it.
    #[must_use]
    pub fn digest(&self) -> u64 {
        use xxhash_rust::xxh3::{Xxh3, xxh3_64};
        // each part with its length first, so that no two lists of parts run together
        let of_parts = |parts: &[Option<&[u8]>]| {
            let mut h = Xxh3::new();
            for part in parts {
                match part {
                    Some(p) => {
                        h.update(&(p.len() as u64).to_le_bytes());
                        h.update(p);
                    }
                    None => h.update(&u64::MAX.to_le_bytes()),
                }
            }
            h.digest()
        };
        match self {
            Raw::Line(bytes) | Raw::File { bytes, .. } => xxh3_64(bytes),
            Raw::Oversized { bytes, .. } => xxh3_64(&bytes.to_le_bytes()),
            Raw::Document { id, text, .. } => {
                let mut h = Xxh3::new();
                h.update(id.as_bytes());
                h.update(&[0]);
                h.update(text.as_bytes());
                h.digest()
            }
            Raw::Warc(w) => of_parts(&[
                field(w.record_id.as_ref()),
                field(w.target_uri.as_ref()),
                field(w.date.as_ref()),
                field(w.content_type.as_ref()),
                Some(&w.block),
            ]),
            Raw::Row {
                id,
                text,
                date,
                outlet,
                url,
            } => of_parts(&[
                field(id.as_ref()),
                field(text.as_ref()),
                field(date.as_ref()),
                field(outlet.as_ref()),
                field(url.as_ref()),
            ]),
            Raw::Unreadable { id, reason, detail } => of_parts(&[
                field(id.as_ref()),
                Some(reason.as_str().as_bytes()),
                Some(detail.as_bytes()),
            ]),
        }
    }
}

/// A field's bytes, for `Raw::digest`.
fn field(f: Option<&String>) -> Option<&[u8]> {
    f.map(String::as_bytes)
}

/// The fields of a record, or why it was skipped (`text` is then empty).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRecord {
    /// The id field: a string as is, a number (or other non-null JSON) as its JSON text.
    /// `None` when absent or null; the run then names the record by its position.
    pub id: Option<String>,
    /// The document text, a BOM dropped from a text file; empty when skipped.
    pub text: String,
    /// The date field when it is a JSON string, unchecked here (the run drops, and
    /// counts, a date that is not ISO 8601).
    pub date: Option<String>,
    /// The outlet field when it is a JSON string.
    pub outlet: Option<String>,
    /// The URL field when it is a JSON string (JSONL only); in paragraph mode its host
    /// stands in for a missing outlet.
    pub url: Option<String>,
    /// Why the record cannot be compared, and the detail for the warning.
    pub skip: Option<(SkipReason, String)>,
}

impl ParsedRecord {
    /// The `too_large` skip for a record of `len` bytes, when it exceeds the limit.
    fn over_limit(
        id: Option<String>,
        what: &str,
        len: usize,
        params: &InputParams,
    ) -> Option<Self> {
        (len as u64 > params.max_doc_bytes).then(|| {
            let detail = format!(
                "{what} of {len} bytes exceeds max_doc_bytes = {}",
                params.max_doc_bytes
            );
            ParsedRecord::skipped(id, SkipReason::TooLarge, detail)
        })
    }

    fn skipped(id: Option<String>, reason: SkipReason, detail: impl Into<String>) -> Self {
        ParsedRecord {
            id,
            text: String::new(),
            date: None,
            outlet: None,
            url: None,
            skip: Some((reason, detail.into())),
        }
    }
}

/// Parses a raw record. Never fails: a bad record comes back with `skip` set.
#[must_use]
pub fn parse_record(raw: Raw, params: &InputParams) -> ParsedRecord {
    match raw {
        Raw::Line(bytes) => parse_line(&bytes, params),
        Raw::Oversized { bytes, id } => ParsedRecord::skipped(
            id,
            SkipReason::TooLarge,
            format!(
                "record of {bytes} bytes exceeds max_doc_bytes = {}",
                params.max_doc_bytes
            ),
        ),
        Raw::File { id, bytes } => {
            if let Some(skip) =
                ParsedRecord::over_limit(Some(id.clone()), "file", bytes.len(), params)
            {
                return skip;
            }
            match String::from_utf8(bytes) {
                Ok(mut text) => {
                    if text.starts_with('\u{feff}') {
                        text.drain(..3);
                    }
                    ParsedRecord {
                        id: Some(id),
                        text,
                        date: None,
                        outlet: None,
                        url: None,
                        skip: None,
                    }
                }
                Err(e) => ParsedRecord::skipped(
                    Some(id),
                    SkipReason::InvalidUtf8,
                    format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
                ),
            }
        }
        Raw::Document {
            id,
            text,
            date,
            outlet,
        } => {
            if let Some(skip) =
                ParsedRecord::over_limit(Some(id.clone()), "text", text.len(), params)
            {
                return skip;
            }
            ParsedRecord {
                id: Some(id),
                text,
                date,
                outlet,
                url: None,
                skip: None,
            }
        }
        Raw::Warc(doc) => parse_warc(doc, params),
        Raw::Row {
            id,
            text,
            date,
            outlet,
            url,
        } => {
            let Some(text) = text else {
                return ParsedRecord::skipped(
                    id,
                    SkipReason::MissingText,
                    format!("column `{}` is null", params.text_field),
                );
            };
            if let Some(skip) = ParsedRecord::over_limit(id.clone(), "text", text.len(), params) {
                return skip;
            }
            ParsedRecord {
                id,
                text,
                date,
                outlet,
                url,
                skip: None,
            }
        }
        Raw::Unreadable { id, reason, detail } => ParsedRecord::skipped(id, reason, detail),
    }
}

/// Media types whose payload is sniffed for HTML: they say nothing about it.
fn is_generic(media: Option<&str>) -> bool {
    matches!(
        media,
        None | Some("" | "application/octet-stream" | "text/plain" | "unknown/unknown")
    )
}

/// A WARC record's fields: id, date, URL and outlet from its headers; its text from the
/// WET text as it is (one paragraph a line), or from the HTML of a response (HTTP status
/// 200 unless `warc_status` is `any`) or a resource, whose Content-Type says HTML or,
/// when it says nothing useful, whose first bytes look like HTML.
fn parse_warc(doc: WarcDoc, params: &InputParams) -> ParsedRecord {
    let WarcDoc {
        kind,
        record_id,
        target_uri,
        date,
        content_type,
        block,
    } = doc;
    let skipped = |reason, detail: String| ParsedRecord {
        date: date.clone(),
        outlet: target_uri.as_deref().and_then(url_host),
        url: target_uri.clone(),
        ..ParsedRecord::skipped(record_id.clone(), reason, detail)
    };
    let text = match kind {
        RecordKind::Conversion => {
            if let Some(skip) =
                ParsedRecord::over_limit(record_id.clone(), "text", block.len(), params)
            {
                return skip;
            }
            match String::from_utf8(block) {
                Ok(text) => text,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }
        }
        RecordKind::Response => {
            let http = match HttpResponse::parse(&block) {
                Ok(http) => http,
                Err(e) => return skipped(SkipReason::BadHttp, e.to_string()),
            };
            if http.status != 200 && params.warc_status == WarcStatus::Ok {
                return skipped(
                    SkipReason::HttpStatus,
                    format!("HTTP status {} {}", http.status, http.reason)
                        .trim_end()
                        .to_owned(),
                );
            }
            let payload = match http.payload() {
                Ok(p) => p,
                Err(e) => return skipped(SkipReason::BadHttp, e.to_string()),
            };
            let media = http.media_type();
            match html_text(
                &payload,
                media.as_deref(),
                http.charset().as_deref(),
                params,
            ) {
                Ok(text) => text,
                Err((reason, detail)) => return skipped(reason, detail),
            }
        }
        _ => {
            let (media, charset) = content_type
                .as_deref()
                .map(parse_content_type)
                .unwrap_or_default();
            let media = (!media.is_empty()).then_some(media);
            match html_text(&block, media.as_deref(), charset.as_deref(), params) {
                Ok(text) => text,
                Err((reason, detail)) => return skipped(reason, detail),
            }
        }
    };
    if let Some(skip) = ParsedRecord::over_limit(record_id.clone(), "text", text.len(), params) {
        return skip;
    }
    ParsedRecord {
        id: record_id,
        text,
        date,
        outlet: target_uri.as_deref().and_then(url_host),
        url: target_uri,
        skip: None,
    }
}

/// The text of an HTML payload, or why it has none: it is not HTML, or over the limit.
fn html_text(
    payload: &[u8],
    media: Option<&str>,
    charset: Option<&str>,
    params: &InputParams,
) -> Result<String, (SkipReason, String)> {
    let is_html = match media {
        Some("text/html" | "application/xhtml+xml") => true,
        m if is_generic(m) => sniff_html(payload),
        _ => false,
    };
    if !is_html {
        let what = media.unwrap_or("without a Content-Type");
        return Err((
            SkipReason::NotHtml,
            format!("the payload ({what}) is not HTML"),
        ));
    }
    if payload.len() as u64 > params.max_doc_bytes {
        return Err((
            SkipReason::TooLarge,
            format!(
                "HTML of {} bytes exceeds max_doc_bytes = {}",
                payload.len(),
                params.max_doc_bytes
            ),
        ));
    }
    Ok(html::extract(payload, charset).text)
}

fn parse_line(bytes: &[u8], params: &InputParams) -> ParsedRecord {
    let line = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            return ParsedRecord::skipped(
                None,
                SkipReason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            );
        }
    };
    let fields: BTreeMap<String, &RawValue> = match serde_json::from_str(line) {
        Ok(f) => f,
        Err(e) => {
            // distinguish "valid JSON, wrong shape" from "not JSON at all"
            return match serde_json::from_str::<serde::de::IgnoredAny>(line) {
                Ok(_) => ParsedRecord::skipped(
                    None,
                    SkipReason::NotAnObject,
                    "the line is JSON but not an object",
                ),
                Err(_) => ParsedRecord::skipped(None, SkipReason::InvalidJson, e.to_string()),
            };
        }
    };
    let id = fields.get(&params.id_field).and_then(|v| id_text(v));
    let date = fields.get(&params.date_field).and_then(|v| date_field(v));
    let outlet = fields
        .get(&params.outlet_field)
        .and_then(|v| string_field(v));
    let Some(raw_text) = fields.get(&params.text_field) else {
        return ParsedRecord::skipped(
            id,
            SkipReason::MissingText,
            format!("no field `{}`", params.text_field),
        );
    };
    let text = match raw_text.get().as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<String>(raw_text.get()) {
            Ok(t) => t,
            Err(e) => return ParsedRecord::skipped(id, SkipReason::InvalidJson, e.to_string()),
        },
        Some(b'n') => {
            return ParsedRecord::skipped(
                id,
                SkipReason::MissingText,
                format!("field `{}` is null", params.text_field),
            );
        }
        _ => {
            let kind = json_kind(raw_text.get());
            return ParsedRecord::skipped(
                id,
                SkipReason::TextNotString,
                format!("field `{}` is {kind}, not a string", params.text_field),
            );
        }
    };
    if let Some(skip) = ParsedRecord::over_limit(id.clone(), "text", text.len(), params) {
        return skip;
    }
    let url = fields.get(&params.url_field).and_then(|v| string_field(v));
    ParsedRecord {
        id,
        text,
        date,
        outlet,
        url,
        skip: None,
    }
}

fn id_text(v: &RawValue) -> Option<String> {
    let s = v.get();
    match s.as_bytes().first()? {
        b'"' => serde_json::from_str(s).ok(),
        b'n' => None,
        _ => Some(s.to_owned()),
    }
}

fn string_field(v: &RawValue) -> Option<String> {
    if v.get().starts_with('"') {
        serde_json::from_str(v.get()).ok()
    } else {
        None
    }
}

/// The date field as given: a string's text, a number's (or any other value's) JSON text,
/// so that `date::is_iso_date` refuses it and the run counts it in `dates_not_iso`; `null`
/// is no date.
fn date_field(v: &RawValue) -> Option<String> {
    match v.get() {
        "null" => None,
        s if s.starts_with('"') => serde_json::from_str(s).ok(),
        s => Some(s.to_owned()),
    }
}

fn json_kind(s: &str) -> &'static str {
    match s.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> ParsedRecord {
        parse_line(line, &InputParams::default())
    }

    #[test]
    fn reads_fields() {
        let r = parse(
            br#"{"id":"a1","text":"Hello \u00e9","date":"2024-01-02","outlet":"X","n":[1,2]}"#,
        );
        assert_eq!(r.id.as_deref(), Some("a1"));
        assert_eq!(r.text, "Hello é");
        assert_eq!(r.date.as_deref(), Some("2024-01-02"));
        assert_eq!(r.outlet.as_deref(), Some("X"));
        assert!(r.skip.is_none());
        assert_eq!(parse(br#"{"id":17,"text":"x"}"#).id.as_deref(), Some("17"));
        assert_eq!(parse(br#"{"text":"x"}"#).id, None);
    }

    #[test]
    fn a_date_that_is_not_a_string_is_kept_to_be_counted() {
        let date = |l: &[u8]| parse(l).date;
        assert_eq!(
            date(br#"{"text":"x","date":20240101}"#).as_deref(),
            Some("20240101")
        );
        assert_eq!(
            date(br#"{"text":"x","date":[2024]}"#).as_deref(),
            Some("[2024]")
        );
        assert_eq!(date(br#"{"text":"x","date":null}"#), None);
        assert_eq!(date(br#"{"text":"x"}"#), None);
    }

    #[test]
    fn reasons() {
        let reason = |l: &[u8]| parse(l).skip.map(|s| s.0);
        assert_eq!(
            reason(b"{\"id\":\"a\",\"text\":\"caf\xff\"}"),
            Some(SkipReason::InvalidUtf8)
        );
        assert_eq!(
            reason(br#"{"id":"a","text":"x""#),
            Some(SkipReason::InvalidJson)
        );
        assert_eq!(reason(br"[1,2]"), Some(SkipReason::NotAnObject));
        assert_eq!(reason(br#""just a string""#), Some(SkipReason::NotAnObject));
        assert_eq!(reason(br#"{"id":"a"}"#), Some(SkipReason::MissingText));
        assert_eq!(
            reason(br#"{"id":"a","text":null}"#),
            Some(SkipReason::MissingText)
        );
        assert_eq!(
            reason(br#"{"id":"a","text":42}"#),
            Some(SkipReason::TextNotString)
        );
        assert_eq!(
            reason(br#"{"id":"a","text":["x"]}"#),
            Some(SkipReason::TextNotString)
        );
        // the id survives a bad text so the user can find the record
        assert_eq!(parse(br#"{"id":"a","text":42}"#).id.as_deref(), Some("a"));
    }

    #[test]
    fn library_documents_obey_the_size_limit_too() {
        let p = InputParams {
            max_doc_bytes: 4,
            ..InputParams::default()
        };
        let raw = Raw::Document {
            id: "a".into(),
            text: "hello".into(),
            date: None,
            outlet: None,
        };
        assert_eq!(
            parse_record(raw, &p).skip.map(|s| s.0),
            Some(SkipReason::TooLarge)
        );
    }

    #[test]
    fn size_limit() {
        let p = InputParams {
            max_doc_bytes: 4,
            ..InputParams::default()
        };
        let r = parse_line(br#"{"id":"a","text":"hello"}"#, &p);
        assert_eq!(r.skip.map(|s| s.0), Some(SkipReason::TooLarge));
    }
}
