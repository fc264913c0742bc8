//! One document's analysis: its text in; what the streaming pass keeps of it (its encoded
//! paragraph record, its distinct paragraph hashes and its repeated paragraphs) out.
//!
//! With the paragraph stage on, the text is segmented and each paragraph normalized and
//! shingled (`paragraph::ParagraphWorker`); with it off, the whole text is one paragraph,
//! shingled as one normalized text, so that every later stage sees the same kind of
//! record. A document without words has no analysis: it is `empty`, kept and never
//! compared.

use crate::document::{ParagraphRecord, sort_hashes};
use crate::paragraph::{ParagraphWorker, Repeat};
use crate::params::ValidParams;
use crate::shingle::Shingler;
use crate::text::{Normalized, normalize_into};

/// One document through the paragraph stage: what the streaming pass keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentAnalysis {
    /// The encoded `ParagraphRecord` (see `ParagraphRecord::encode`).
    pub record: Vec<u8>,
    /// Distinct paragraph hashes, sorted; empty with the paragraph stage off.
    pub hashes: Vec<u64>,
    /// The paragraphs that repeat an earlier one of the same document.
    pub repeats: Vec<Repeat>,
}

/// Reusable buffers of the per-document stage; one per thread.
#[derive(Default)]
pub struct Analyzer {
    normalized: Normalized,
    shingler: Shingler,
    paragraphs: ParagraphWorker,
    record: ParagraphRecord,
}

impl Analyzer {
    /// Normalizes, segments and shingles `text` and finds its repeated paragraphs (with
    /// the paragraph stage off, the whole text is one paragraph). `None` when the text
    /// has no words: the document is `empty`, kept and never compared.
    pub fn analyze(&mut self, text: &str, params: &ValidParams) -> Option<DocumentAnalysis> {
        let mut repeats = Vec::new();
        let mut hashes = Vec::new();
        if params.paragraphs.enabled {
            let sketches = self.paragraphs.process(
                text,
                &params.paragraphs,
                &params.shingle,
                &mut self.record,
            );
            repeats = self
                .paragraphs
                .find_repeats(text, &sketches, &params.paragraphs);
            hashes.extend_from_slice(&self.record.hashes);
            hashes.sort_unstable();
            hashes.dedup();
        } else {
            self.whole_text(text, params);
        }
        let record = &self.record;
        if record.shingles.is_empty() {
            return None;
        }
        Some(DocumentAnalysis {
            record: record.encode(),
            hashes,
            repeats,
        })
    }

    /// The paragraph record of `text` as the streaming pass spills it, without looking for
    /// repeats: what `explain` rebuilds a document's compared set from.
    pub fn record_of(&mut self, text: &str, params: &ValidParams) -> &ParagraphRecord {
        if params.paragraphs.enabled {
            self.paragraphs
                .process(text, &params.paragraphs, &params.shingle, &mut self.record);
        } else {
            self.whole_text(text, params);
        }
        &self.record
    }

    /// The whole text as one paragraph: the same kind of record, so that every later stage
    /// treats it alike.
    fn whole_text(&mut self, text: &str, params: &ValidParams) {
        let record = &mut self.record;
        record.clear();
        normalize_into(text, &mut self.normalized);
        self.shingler
            .append(&self.normalized, &params.shingle, &mut record.shingles);
        // sorted once here (see `ParagraphWorker::process`); a whole document's shingles
        // are many, spread hashes: the distribution sort, not the library's
        sort_hashes(&mut record.shingles);
        record.offsets.push(record.shingles.len() as u32);
        record.hashes.push(0);
        record.push_snippet("");
    }

    /// The paragraph record of the last analyzed document.
    #[must_use]
    pub fn record(&self) -> &ParagraphRecord {
        &self.record
    }
}
