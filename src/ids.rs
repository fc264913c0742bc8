//! Document indices and pairs of them: the names every stage after reading uses for the
//! compared documents.
//!
//! Invariant: `DocId`s are dense from 0 in input order, counting only the compared
//! documents (status `ok`), so an ascending id is an earlier document and breaks every
//! remaining tie (representative order, capped buckets).

/// Index of a compared document, dense from 0 in input order.
pub type DocId = u32;

/// A pair of documents, always `(smaller, larger)`.
pub type Pair = (DocId, DocId);

/// A short list per document, for the documents that have one (their boilerplate or
/// removed paragraph indices), all in three flat vectors: 8 bytes a listed document plus
/// its items. A `Vec<(DocId, Box<[T]>)>` costs 24 bytes and a heap allocation (32 bytes
/// or more with the allocator's overhead) a document, which at millions of documents is
/// most of it.
///
/// Invariant: documents are pushed in ascending order, each at most once, never with an
/// empty list, so `get` is a binary search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocLists<T> {
    docs: Vec<DocId>,
    /// `items[ends[i - 1]..ends[i]]` is the list of `docs[i]` (from 0 for the first).
    ends: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for DocLists<T> {
    fn default() -> Self {
        DocLists {
            docs: Vec::new(),
            ends: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Clone> DocLists<T> {
    /// Adds the list of `doc`, after every document added so far; an empty list adds
    /// nothing.
    ///
    /// # Panics
    /// When `doc` is not after the last document added: the order is the invariant that
    /// makes `get` correct.
    pub fn push(&mut self, doc: DocId, list: &[T]) {
        if list.is_empty() {
            return;
        }
        assert!(
            self.docs.last().is_none_or(|&last| last < doc),
            "documents are added in ascending order"
        );
        self.docs.push(doc);
        self.items.extend_from_slice(list);
        self.ends
            .push(u32::try_from(self.items.len()).expect("under 2^32 list items"));
    }

    /// The list of `doc`; empty when it has none.
    #[must_use]
    pub fn get(&self, doc: DocId) -> &[T] {
        self.docs
            .binary_search(&doc)
            .map_or(&[][..], |i| self.list(i))
    }

    fn list(&self, i: usize) -> &[T] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.items[start..self.ends[i] as usize]
    }

    /// Documents that have a list.
    #[must_use]
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// No document has a list.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Every listed document with its list, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (DocId, &[T])> + '_ {
        self.docs
            .iter()
            .enumerate()
            .map(|(i, &d)| (d, self.list(i)))
    }

    /// Adds every list of `other`, its documents shifted by `base` (a later part of the
    /// same numbering: an index's batch after its archive).
    pub fn extend_shifted(&mut self, other: &DocLists<T>, base: DocId) {
        for (d, list) in other.iter() {
            self.push(base + d, list);
        }
    }
}

impl<T: Clone> FromIterator<(DocId, Vec<T>)> for DocLists<T> {
    fn from_iter<I: IntoIterator<Item = (DocId, Vec<T>)>>(iter: I) -> Self {
        let mut lists = DocLists::default();
        for (d, list) in iter {
            lists.push(d, &list);
        }
        lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_found_by_document_and_empty_ones_are_not_kept() {
        let mut lists = DocLists::default();
        lists.push(2, &[7, 8]);
        lists.push(3, &[]);
        lists.push(5, &[1]);
        assert_eq!(lists.len(), 2);
        assert_eq!(lists.get(2), &[7, 8]);
        assert_eq!(lists.get(3), &[] as &[u32]);
        assert_eq!(lists.get(5), &[1]);
        assert_eq!(lists.get(9), &[] as &[u32]);
        let mut all = lists.clone();
        all.extend_shifted(&lists, 10);
        let got: Vec<(DocId, Vec<u32>)> = all.iter().map(|(d, l)| (d, l.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (2, vec![7, 8]),
                (5, vec![1]),
                (12, vec![7, 8]),
                (15, vec![1])
            ]
        );
    }

    #[test]
    #[should_panic(expected = "ascending")]
    fn documents_out_of_order_are_refused() {
        let mut lists = DocLists::default();
        lists.push(4, &[1]);
        lists.push(3, &[1]);
    }
}
