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
