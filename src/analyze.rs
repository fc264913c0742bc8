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

    /// What `analyze(text, params)` gives as `hashes`, without the rest of the analysis:
    /// `None` when `analyze` gives `None` (a text without words), else the distinct
    /// paragraph hashes, sorted (none with the paragraph stage off). For counting
    /// boilerplate keys, which need nothing else of a document: segmenting, normalizing
    /// and hashing its paragraphs is a fraction of shingling them and finding repeats.
    pub fn paragraph_hashes(&mut self, text: &str, params: &ValidParams) -> Option<Vec<u64>> {
        let mut hashes = Vec::new();
        let words = if params.paragraphs.enabled {
            let words = self
                .paragraphs
                .hashes(text, &params.paragraphs, &mut hashes);
            hashes.sort_unstable();
            hashes.dedup();
            words
        } else {
            normalize_into(text, &mut self.normalized);
            !self.normalized.text.is_empty()
        };
        words.then_some(hashes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{GenParams, generate};
    use crate::params::{Params, SplitMode};

    /// `paragraph_hashes` is `analyze`'s hashes, or its `None`, on texts with empty,
    /// wordless and repeated paragraphs and on generated news, in every split mode and with
    /// the paragraph stage off.
    #[test]
    fn paragraph_hashes_are_those_of_the_analysis() {
        let mut texts: Vec<String> = [
            "",
            "   \n\n  ",
            "!!! ... ---",
            "--\n\n!!\n\nword",
            "a\n\nb\n\na",
            "Line one\nline two\n\n\nLine one\n  \n...",
            "one paragraph only, no break at all",
            "Comments are moderated.\r\n\r\nThe story, again.\r\n\r\nComments are moderated.",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let corpus = generate(&GenParams {
            docs: 200,
            seed: 17,
            ..GenParams::default()
        });
        texts.extend(corpus.docs.iter().map(|d| d.text.clone()));
        let mut compared = 0;
        for (enabled, split) in [
            (true, SplitMode::Auto),
            (true, SplitMode::Blank),
            (true, SplitMode::Line),
            (false, SplitMode::Auto),
        ] {
            let mut params = Params::default();
            params.paragraphs.enabled = enabled;
            params.paragraphs.split = split;
            let params = params.validate().unwrap();
            let (mut full, mut fast) = (Analyzer::default(), Analyzer::default());
            for text in &texts {
                let want = full.analyze(text, &params).map(|a| a.hashes);
                compared += usize::from(want.as_ref().is_some_and(|h| h.len() > 1));
                assert_eq!(fast.paragraph_hashes(text, &params), want, "{text:?}");
            }
        }
        // the generated texts do have several paragraphs each
        assert!(compared > 3 * 200, "{compared}");
    }
}
