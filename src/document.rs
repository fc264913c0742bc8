//! A document as the stages after reading see it: where it came from (`Position`) and
//! what the streaming pass keeps of its text (`ParagraphRecord`).
//!
//! In: a reader's place in its source; one document's paragraphs (hashes, snippets,
//! shingles). Out: a compact position for the run's record table, and a binary record the
//! spill stores and every later stage (sketch pass, verification, provenance, `explain`,
//! the distributed stages) decodes.
//!
//! Invariant: `ParagraphRecord::decode(&r.encode()) == Some(r)`, and a paragraph's
//! shingles are a sorted run, so an article set is a merge of sorted runs.

use std::fmt;

/// Where a record stands in its source: what lets a user open the bad record directly,
/// and what a second pass over the inputs checks it meets the same record at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Position {
    /// The whole file is one document (a plain-text file).
    #[default]
    File,
    /// 1-based line of a line-delimited source (JSONL).
    Line(u64),
    /// Byte offset of the record in the (decompressed) stream (WARC).
    Offset(u64),
    /// 0-based row of a table (Parquet, Arrow).
    Row(u64),
}

impl Position {
    /// The line, for a line-delimited source: what `docs.jsonl` prints as `line`.
    #[must_use]
    pub fn line(self) -> Option<u64> {
        match self {
            Position::Line(n) => Some(n),
            _ => None,
        }
    }

    /// The byte offset, for a WARC record: what `docs.jsonl` prints as `offset`.
    #[must_use]
    pub fn offset(self) -> Option<u64> {
        match self {
            Position::Offset(n) => Some(n),
            _ => None,
        }
    }

    /// The row, for a Parquet or Arrow record: what `docs.jsonl` prints as `row`.
    #[must_use]
    pub fn row(self) -> Option<u64> {
        match self {
            Position::Row(n) => Some(n),
            _ => None,
        }
    }

    /// The position packed into 8 bytes, for tables that hold one per record.
    #[must_use]
    pub fn pack(self) -> PackedPosition {
        let (kind, value) = match self {
            Position::File => (0, 0),
            Position::Line(n) => (1, n),
            Position::Offset(n) => (2, n),
            Position::Row(n) => (3, n),
        };
        // no source holds 2^62 lines, bytes or rows
        debug_assert!(
            value <= PackedPosition::VALUE,
            "position {value} out of range"
        );
        PackedPosition(kind << 62 | value & PackedPosition::VALUE)
    }

    /// The name of a record without an id: its source and, for a record that is not the
    /// whole file, where in it (`path:line`, `path@byte`, `path#row`).
    #[must_use]
    pub fn name_in(self, source: &str) -> String {
        match self {
            Position::File => source.to_owned(),
            Position::Line(n) => format!("{source}:{n}"),
            Position::Offset(n) => format!("{source}@{n}"),
            Position::Row(n) => format!("{source}#{n}"),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::File => f.write_str("the whole file"),
            Position::Line(n) => write!(f, "line {n}"),
            Position::Offset(n) => write!(f, "byte {n}"),
            Position::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A `Position` in 8 bytes (2 bits of kind, 62 of value): the run keeps one per record,
/// and a plain enum would take 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackedPosition(u64);

impl PackedPosition {
    const VALUE: u64 = (1 << 62) - 1;

    /// The 64 bits it is kept in, for a table that stores it.
    #[must_use]
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The position `to_bits` gave.
    #[must_use]
    pub fn from_bits(bits: u64) -> Self {
        PackedPosition(bits)
    }

    /// The position it holds.
    #[must_use]
    pub fn unpack(self) -> Position {
        let value = self.0 & Self::VALUE;
        match self.0 >> 62 {
            0 => Position::File,
            1 => Position::Line(value),
            2 => Position::Offset(value),
            _ => Position::Row(value),
        }
    }
}

impl From<Position> for PackedPosition {
    fn from(p: Position) -> Self {
        p.pack()
    }
}

/// A compact binary record of one document's paragraphs, as the streaming pass spills it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParagraphRecord {
    /// Each paragraph's hash (of its normalized text): the boilerplate key.
    pub hashes: Vec<u64>,
    /// Each paragraph's snippet (`snippet` of its first 255 bytes, whole characters),
    /// back to back: what the summary shows of a boilerplate paragraph, stored already
    /// folded so that the spill holds at most 80 characters a paragraph.
    snippet_bytes: Vec<u8>,
    snippet_ends: Vec<u32>,
    /// `shingles[offsets[i]..offsets[i + 1]]` are paragraph i's article shingles.
    pub offsets: Vec<u32>,
    /// Every paragraph's shingles, back to back; each paragraph's run sorted.
    pub shingles: Vec<u64>,
}

impl Default for ParagraphRecord {
    fn default() -> Self {
        ParagraphRecord {
            hashes: Vec::new(),
            snippet_bytes: Vec::new(),
            snippet_ends: Vec::new(),
            offsets: vec![0],
            shingles: Vec::new(),
        }
    }
}

const SNIPPET_BYTES: usize = 255;

impl ParagraphRecord {
    /// Empties the record for the next document, keeping its buffers.
    pub fn clear(&mut self) {
        self.hashes.clear();
        self.snippet_bytes.clear();
        self.snippet_ends.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.shingles.clear();
    }

    /// Number of paragraphs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True for a record without paragraphs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Paragraph `i`'s shingles.
    #[must_use]
    pub fn paragraph_shingles(&self, i: usize) -> &[u64] {
        &self.shingles[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Keeps the beginning of the next paragraph's text as its snippet: `snippet` of its
    /// first 255 bytes (whole characters). Records once kept those 255 bytes and folded
    /// them when the summary was written; folding first gives the summary the same text
    /// and the spill a quarter of the bytes.
    pub fn push_snippet(&mut self, paragraph: &str) {
        let mut cut = paragraph.len().min(SNIPPET_BYTES);
        while !paragraph.is_char_boundary(cut) {
            cut -= 1;
        }
        fold_snippet(&paragraph[..cut], &mut self.snippet_bytes);
        self.snippet_ends.push(self.snippet_bytes.len() as u32);
    }

    /// The snippet of paragraph `i` (see `push_snippet`), as the summary shows it.
    #[must_use]
    pub fn snippet(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.snippet_ends[i - 1] as usize
        };
        std::str::from_utf8(&self.snippet_bytes[start..self.snippet_ends[i] as usize]).unwrap_or("")
    }

    /// Appends the shingles of the paragraphs not in `removed` (sorted) to `out`, unsorted
    /// and with repeats. A document whose every paragraph is removed keeps them all: a
    /// page made only of boilerplate still compares by what it holds.
    pub fn kept_shingles(&self, removed: &[u32], out: &mut Vec<u64>) {
        let start = out.len();
        for i in 0..self.len() {
            if removed.binary_search(&(i as u32)).is_err() {
                out.extend_from_slice(self.paragraph_shingles(i));
            }
        }
        if out.len() == start {
            out.extend_from_slice(&self.shingles);
        }
    }

    /// The indices of the paragraphs not in `removed` (sorted), in order: the paragraphs
    /// an article set is made of. A document whose every paragraph is removed is compared
    /// whole (see `kept_shingles`).
    pub fn compared_paragraphs<'a>(&'a self, removed: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        let n = self.len() as u32;
        // `removed` is sorted and distinct: every paragraph is removed when it holds them all
        let all = removed.iter().filter(|&&i| i < n).count() == self.len();
        (0..n).filter(move |i| all || removed.binary_search(i).is_err())
    }

    /// A record of the compared paragraphs only (those not in `removed`, sorted; all of
    /// them when every one is), in order, without snippets: what exact verification needs
    /// of a document, for a caller that ships it elsewhere (the Spark job). Its article
    /// set with nothing removed is this record's article set with `removed` removed.
    #[must_use]
    pub fn compared_record(&self, removed: &[u32]) -> ParagraphRecord {
        let mut out = ParagraphRecord::default();
        for i in self.compared_paragraphs(removed) {
            let i = i as usize;
            out.hashes.push(self.hashes[i]);
            out.shingles.extend_from_slice(self.paragraph_shingles(i));
            out.offsets.push(out.shingles.len() as u32);
            out.push_snippet("");
        }
        out
    }

    /// The article set exact verification compares: the kept shingles (see
    /// `kept_shingles`), sorted and de-duplicated.
    #[must_use]
    pub fn article_set(&self, removed: &[u32]) -> Vec<u64> {
        let mut set = Vec::with_capacity(self.shingles.len());
        self.kept_shingles(removed, &mut set);
        sort_hashes(&mut set);
        set.dedup();
        set
    }

    /// Layout, little-endian: `n: u32`, then per paragraph `hash: u64, shingles: u32,
    /// snippet_len: u8, snippet bytes`, then every paragraph's shingles as `u64`.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// `encode`, appended to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(
            4 + self.hashes.len() * 16 + self.snippet_bytes.len() + self.shingles.len() * 8,
        );
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        for (i, h) in self.hashes.iter().enumerate() {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&(self.offsets[i + 1] - self.offsets[i]).to_le_bytes());
            let sn = self.snippet(i).as_bytes();
            out.push(sn.len() as u8);
            out.extend_from_slice(sn);
        }
        // into bytes made room for at once: a capacity check a shingle (`extend_from_slice`
        // of each) cost about as much as the copy
        let start = out.len();
        out.resize(start + self.shingles.len() * 8, 0);
        for (bytes, s) in out[start..].chunks_exact_mut(8).zip(&self.shingles) {
            bytes.copy_from_slice(&s.to_le_bytes());
        }
    }

    /// Inverse of `encode`; `None` for bytes it did not write.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut rec = ParagraphRecord::default();
        rec.decode_into(bytes)?;
        Some(rec)
    }

    /// `decode` into this record, replacing what it held and keeping its buffers: a
    /// worker decoding record after record allocates only when one is larger than any
    /// before. `None` (the record then unspecified) where `decode` gives `None`.
    pub fn decode_into(&mut self, bytes: &[u8]) -> Option<()> {
        let rec = self;
        rec.clear();
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        for _ in 0..n {
            rec.hashes
                .push(u64::from_le_bytes(take(8)?.try_into().ok()?));
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?);
            rec.offsets
                .push(rec.offsets.last().copied().unwrap_or(0) + len);
            let sl = take(1)?[0] as usize;
            rec.snippet_bytes.extend_from_slice(take(sl)?);
            rec.snippet_ends.push(rec.snippet_bytes.len() as u32);
        }
        let total = *rec.offsets.last().expect("starts with 0") as usize;
        let raw = take(total * 8)?;
        rec.shingles.extend(
            raw.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
        );
        Some(())
    }

    /// The paragraph hashes of the bytes `encode` wrote, into `hashes` (replacing what it
    /// held), without copying the shingles or snippets: what `index verify` needs of
    /// every archived record. `None` where `decode` would give `None`.
    pub fn decode_hashes(bytes: &[u8], hashes: &mut Vec<u64>) -> Option<()> {
        hashes.clear();
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at.checked_add(n)?)?;
            at += n;
            Some(s)
        };
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let mut total = 0u32;
        for _ in 0..n {
            hashes.push(u64::from_le_bytes(take(8)?.try_into().ok()?));
            total += u32::from_le_bytes(take(4)?.try_into().ok()?);
            let sl = take(1)?[0] as usize;
            take(sl)?;
        }
        take(total as usize * 8)?;
        Some(())
    }
}

/// Below this many values a comparison sort is as fast as distributing them.
const SPREAD_SORT_MIN: usize = 256;

/// Sorts shingle hashes ascending. Shingles are hashes, spread evenly over the 64 bits, so
/// one counting pass on their top bits puts each in its own bucket, about one value a
/// bucket, and an insertion pass orders the few that share one: two passes over the data
/// where merging an article's sorted paragraph runs took one per doubling of the run
/// length (this sort ran for every document of every candidate pair and cluster). Values
/// that are not spread (the insertion pass moving more than a few times their number) go
/// to the library sort, so no input costs much more than it.
pub fn sort_hashes(values: &mut Vec<u64>) {
    let n = values.len();
    // one paragraph (`--paragraphs off`), or one kept: a single run, sorted already; an
    // unsorted set shows it within its first paragraph
    if values.is_sorted() {
        return;
    }
    if n < SPREAD_SORT_MIN {
        values.sort_unstable();
        return;
    }
    SCRATCH.with_borrow_mut(|(starts, out)| {
        spread_sort(values, starts, out);
        std::mem::swap(values, out);
    });
}

/// Below this many values a paragraph's run is sorted by comparisons (see `sort_run`).
const RUN_SPREAD_MIN: usize = 32;

/// Sorts one paragraph's shingle hashes ascending, in place: `sort_hashes`'s distribution
/// for runs of `RUN_SPREAD_MIN` values and more (a paragraph has tens to hundreds, and the
/// library sort of each took about 65 instructions a value, 8% of a run's), copied back.
pub fn sort_run(values: &mut [u64]) {
    if values.len() < RUN_SPREAD_MIN {
        values.sort_unstable();
        return;
    }
    SCRATCH.with_borrow_mut(|(starts, out)| {
        spread_sort(values, starts, out);
        values.copy_from_slice(out);
    });
}

thread_local! {
    // the bucket counts and the scattered copy, kept across calls: every candidate
    // pair and cluster member sorts a set, and fresh buffers of its size cost an
    // allocation and, for the larger ones, the kernel's zeroing of new pages
    static SCRATCH: std::cell::RefCell<(Vec<u32>, Vec<u64>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `values` (more than one) sorted into `out`, with `starts` for the bucket counts.
fn spread_sort(values: &[u64], starts: &mut Vec<u32>, out: &mut Vec<u64>) {
    let n = values.len();
    // about one bucket a value: ceil(log2 n) bits, at most 2^20 buckets
    let bits = (usize::BITS - (n - 1).leading_zeros()).min(20);
    let shift = 64 - bits;
    let buckets = 1usize << bits;
    starts.clear();
    starts.resize(buckets, 0);
    // the bucket as a mask of the slice's length: no bounds check a value
    let starts = &mut starts[..buckets];
    let bucket = |v: u64| (v >> shift) as usize & (buckets - 1);
    for &v in values {
        starts[bucket(v)] += 1;
    }
    // the counts into where each bucket starts
    let mut sum = 0;
    for start in starts.iter_mut() {
        let count = *start;
        *start = sum;
        sum += count;
    }
    // every slot is written by the scatter below: only its length matters here
    out.resize(n, 0);
    for &v in values {
        let at = &mut starts[bucket(v)];
        out[*at as usize] = v;
        *at += 1;
    }
    // each value is now within its bucket's range: an insertion pass moves only the
    // values that share a bucket with a larger one
    let budget = 4 * n;
    let mut moves = 0usize;
    let out = &mut out[..n];
    for i in 1..n {
        let v = out[i];
        // most values are in order already: one comparison, and the move count is kept
        // only for the others
        if out[i - 1] <= v {
            continue;
        }
        let mut j = i;
        while j > 0 && out[j - 1] > v {
            out[j] = out[j - 1];
            j -= 1;
        }
        out[j] = v;
        moves += i - j;
        if moves > budget {
            out.sort_unstable();
            break;
        }
    }
}

/// The first 80 characters of a paragraph with whitespace folded, for reports.
#[must_use]
pub fn snippet(text: &str) -> String {
    let mut out = Vec::new();
    fold_snippet(text, &mut out);
    String::from_utf8(out).expect("whole words and ASCII spaces")
}

/// Appends `snippet(text)` to `out`, without a `String` of its own.
fn fold_snippet(text: &str, out: &mut Vec<u8>) {
    const CHARS: usize = 80;
    // 80 characters never need more than 320 bytes of words and 80 spaces
    let mut cut = text.len().min(400);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = &text[..cut];
    let start = out.len();
    if text.is_ascii() {
        // most paragraphs: a byte is a character, and the whitespace `split_whitespace`
        // knows among ASCII is tab to carriage return and space
        let head = &text.as_bytes()[..text.len().min(CHARS)];
        if is_folded_ascii(head) {
            // the snippet is the paragraph's first 80 bytes as they stand
            out.extend_from_slice(head);
            return;
        }
        let mut in_word = false;
        let mut space_due = false;
        for &b in text.as_bytes() {
            if matches!(b, b'\t'..=b'\r' | b' ') {
                if in_word {
                    in_word = false;
                    if out.len() - start >= CHARS {
                        break;
                    }
                    space_due = true;
                }
            } else {
                if space_due {
                    out.push(b' ');
                    space_due = false;
                }
                out.push(b);
                in_word = true;
            }
        }
        out.truncate(start + (out.len() - start).min(CHARS));
        return;
    }
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            out.push(b' ');
            chars += 1;
        }
        out.extend_from_slice(word.as_bytes());
        chars += word.chars().count();
        if chars >= CHARS {
            break;
        }
    }
    // the first 80 characters (a space pushed as the 80th stays, as it always has)
    let folded = std::str::from_utf8(&out[start..]).expect("whole characters");
    if let Some((i, _)) = folded.char_indices().nth(CHARS) {
        out.truncate(start + i);
    }
}

/// Whether folding the ASCII `head` leaves it as it is: it neither starts nor ends with
/// whitespace and its only whitespace is single spaces. Most paragraphs' first 80 bytes
/// are so, and are then the snippet without a byte-by-byte fold.
fn is_folded_ascii(head: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (head.first(), head.last()) else {
        return false;
    };
    // no early exit and no `windows(2)` (which compiled to a byte loop with a branch per
    // byte, half of this function's time): the two loops over 80 bytes vectorise
    let mut folds = u8::from(first == b' ' || last == b' ');
    for &b in head {
        folds |= u8::from(matches!(b, b'\t'..=b'\r'));
    }
    for (&a, &b) in head.iter().zip(&head[1..]) {
        folds |= u8::from(a == b' ') & u8::from(b == b' ');
    }
    folds == 0
}

/// A document as exact verification compares it: its paragraph record, the paragraphs
/// left out of its article set (sorted), and that set, sorted and de-duplicated.
#[derive(Debug, Clone, Copy)]
pub struct Compared<'a> {
    /// Every paragraph's shingles.
    pub record: &'a ParagraphRecord,
    /// The paragraphs left out (boilerplate, repeats), sorted.
    pub removed: &'a [u32],
    /// The article set: the other paragraphs' shingles, sorted and de-duplicated.
    pub set: &'a [u64],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let mut rec = ParagraphRecord {
            hashes: vec![1, 2, 3],
            ..ParagraphRecord::default()
        };
        rec.push_snippet("Comments are moderated");
        rec.push_snippet("");
        rec.push_snippet(&"é".repeat(200));
        rec.offsets = vec![0, 2, 2, 3];
        rec.shingles = vec![5, 6, 7];
        let back = ParagraphRecord::decode(&rec.encode()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.paragraph_shingles(0), &[5, 6]);
        assert_eq!(back.snippet(0), "Comments are moderated");
        assert_eq!(back.snippet(1), "");
        assert_eq!(back.snippet(2), "é".repeat(80));
        assert!(ParagraphRecord::decode(&[1, 0]).is_none());
        // decoded into a record that held a longer one: nothing of it is left
        let mut longer = rec.clone();
        longer.hashes.push(4);
        longer.push_snippet("more");
        longer.offsets.push(5);
        longer.shingles.extend([8, 9]);
        let mut reused = ParagraphRecord::decode(&longer.encode()).unwrap();
        reused.decode_into(&rec.encode()).unwrap();
        assert_eq!(reused, rec);
        let mut appended = vec![7u8];
        rec.encode_into(&mut appended);
        assert_eq!(appended[1..], rec.encode()[..]);
        let (bytes, mut hashes) = (rec.encode(), vec![9]);
        assert_eq!(
            ParagraphRecord::decode_hashes(&bytes, &mut hashes),
            Some(())
        );
        assert_eq!(hashes, rec.hashes);
        for cut in 0..bytes.len() {
            assert_eq!(
                ParagraphRecord::decode_hashes(&bytes[..cut], &mut hashes).is_some(),
                ParagraphRecord::decode(&bytes[..cut]).is_some(),
                "{cut}"
            );
        }
    }

    #[test]
    fn article_sets_leave_removed_paragraphs_out_unless_all_are() {
        let mut rec = ParagraphRecord::default();
        for p in [&[4u64, 1, 2, 3, 1][..], &[9, 8], &[2, 7]] {
            rec.shingles.extend_from_slice(p);
            rec.offsets.push(rec.shingles.len() as u32);
            rec.hashes.push(0);
            rec.push_snippet("");
        }
        assert_eq!(rec.article_set(&[1]), vec![1, 2, 3, 4, 7]);
        let mut kept = Vec::new();
        rec.kept_shingles(&[0, 2], &mut kept);
        assert_eq!(kept, vec![9, 8]);
        assert_eq!(rec.article_set(&[0, 1, 2]), vec![1, 2, 3, 4, 7, 8, 9]);
        let kept = rec.compared_record(&[1]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept.paragraph_shingles(1), &[2, 7]);
        assert_eq!(kept.article_set(&[]), rec.article_set(&[1]));
        assert_eq!(rec.compared_record(&[0, 1, 2]), {
            let mut all = rec.clone();
            all.snippet_bytes.clear();
            all.snippet_ends = vec![0; 3];
            all
        });
    }

    /// The snippet as the summary made it before records stored it folded: 255 bytes
    /// kept, then folded.
    fn snippet_oracle(paragraph: &str) -> String {
        let mut cut = paragraph.len().min(255);
        while !paragraph.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &paragraph[..cut];
        let mut out = String::new();
        let mut chars = 0;
        for word in text.split_whitespace() {
            if chars > 0 {
                out.push(' ');
                chars += 1;
            }
            out.push_str(word);
            chars += word.chars().count();
            if chars >= 80 {
                break;
            }
        }
        out.chars().take(80).collect()
    }

    proptest::proptest! {
        #[test]
        fn hash_sort_is_a_sort(
            mut values in proptest::collection::vec(proptest::num::u64::ANY, 0..3000),
            narrow in proptest::bool::ANY,
            repeat in 0usize..4,
        ) {
            // spread values, values crowded into a few buckets, and repeated runs
            if narrow {
                for v in &mut values {
                    *v >>= 40;
                }
            }
            let copy = values.clone();
            for _ in 0..repeat {
                values.extend_from_slice(&copy);
            }
            let mut want = values.clone();
            want.sort_unstable();
            sort_hashes(&mut values);
            proptest::prop_assert_eq!(values, want);
        }

        #[test]
        fn run_sort_is_a_sort_of_the_run_only(
            mut values in proptest::collection::vec(proptest::num::u64::ANY, 0..400),
            narrow in proptest::bool::ANY,
            repeat in 0usize..3,
            (from, to) in (0usize..40, 0usize..40),
        ) {
            // paragraph runs below and above the distribution's threshold, spread or
            // crowded into a few buckets (the insertion pass gives up), with repeats, inside
            // a record whose other values stay where they are
            if narrow {
                for v in &mut values {
                    *v >>= 58;
                }
            }
            let copy = values.clone();
            for _ in 0..repeat {
                values.extend_from_slice(&copy);
            }
            let (from, to) = (from.min(values.len()), values.len() - to.min(values.len()));
            let (from, to) = (from.min(to), to);
            let mut want = values.clone();
            want[from..to].sort_unstable();
            sort_run(&mut values[from..to]);
            proptest::prop_assert_eq!(values, want);
        }

        #[test]
        fn stored_snippets_are_what_the_summary_showed(
            words in proptest::collection::vec("[a-zé東 \t\n\u{a0}]{0,30}", 0..40),
            ascii in proptest::collection::vec("[a-z \t\n\r\x0b\x0c\x1c\x1f.]{0,30}", 0..40),
        ) {
            // mixed text takes the general path, ASCII text the byte loop or, when its
            // first 80 bytes fold to themselves, the copy
            for paragraph in [words.join(" "), ascii.join(" ")] {
                let mut rec = ParagraphRecord::default();
                rec.push_snippet(&paragraph);
                proptest::prop_assert_eq!(rec.snippet(0), snippet_oracle(&paragraph));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn ascii_snippets_copied_or_folded_are_what_the_summary_showed(
            words in proptest::collection::vec("[a-zA-Z0-9.,'-]{1,12}", 0..25),
            flaw in 0usize..400,
            flaw_byte in proptest::sample::select(vec![b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c, b'x']),
        ) {
            // single spaces between words: the copy; one byte changed anywhere (an
            // added space, a tab, a line break, at the start, the end or the 80th byte):
            // a fold, or the copy where the change is past the 80th byte
            let clean = words.join(" ");
            let mut flawed = clean.clone().into_bytes();
            if !flawed.is_empty() {
                let at = flaw % flawed.len();
                flawed[at] = flaw_byte;
            }
            let flawed = String::from_utf8(flawed).expect("ASCII");
            for paragraph in [clean, flawed] {
                let mut rec = ParagraphRecord::default();
                rec.push_snippet(&paragraph);
                proptest::prop_assert_eq!(rec.snippet(0), snippet_oracle(&paragraph));
            }
        }
    }

    #[test]
    fn folded_ascii_heads_are_the_ones_without_whitespace_to_fold() {
        let simple = |head: &[u8]| {
            !head.is_empty()
                && head[0] != b' '
                && head[head.len() - 1] != b' '
                && !head.iter().any(|b| matches!(b, b'\t'..=b'\r'))
                && !head.windows(2).any(|w| w == b"  ")
        };
        // every head of up to 12 bytes over a word byte, a space and a tab
        for len in 0..=12u32 {
            for code in 0..3u32.pow(len) {
                let head: Vec<u8> = (0..len)
                    .map(|k| [b'a', b' ', b'\t'][(code / 3u32.pow(k) % 3) as usize])
                    .collect();
                assert_eq!(is_folded_ascii(&head), simple(&head), "{head:?}");
            }
        }
        // and 80-byte heads with one double space or one other whitespace anywhere
        for at in 0..79 {
            let mut head = b"ab ".repeat(27)[..80].to_vec();
            head[79] = b'z';
            assert!(is_folded_ascii(&head) == simple(&head));
            head[at] = b' ';
            head[at + 1] = b' ';
            assert_eq!(is_folded_ascii(&head), simple(&head));
            head[at] = b'\n';
            assert_eq!(is_folded_ascii(&head), simple(&head));
        }
    }

    #[test]
    fn snippets_fold_like_before_at_the_edges() {
        // a space as the 80th character stays
        for text in [
            format!("{} {}", "a".repeat(79), "b".repeat(10)),
            "é".repeat(300),
            format!("{}  x", "w ".repeat(60)),
            format!("{} b", "a".repeat(79)),
            format!("{} b", "a".repeat(80)),
            format!("{}\tb", "a".repeat(79)),
            " a".to_owned(),
            "a ".to_owned(),
            String::new(),
        ] {
            let mut rec = ParagraphRecord::default();
            rec.push_snippet(&text);
            assert_eq!(rec.snippet(0), snippet_oracle(&text), "{text:?}");
        }
    }

    #[test]
    fn positions_pack_into_eight_bytes() {
        for p in [
            Position::File,
            Position::Line(1),
            Position::Offset(0),
            Position::Row(u64::from(u32::MAX) * 7),
            Position::Line((1 << 62) - 1),
        ] {
            assert_eq!(p.pack().unpack(), p);
        }
        assert_eq!(std::mem::size_of::<PackedPosition>(), 8);
        assert_eq!(Position::Line(3).line(), Some(3));
        assert_eq!(Position::Row(3).line(), None);
        assert_eq!(Position::Offset(12).to_string(), "byte 12");
        assert_eq!(Position::Line(12).name_in("a.jsonl"), "a.jsonl:12");
        assert_eq!(Position::File.name_in("a.txt"), "a.txt");
    }
}
