//! HTML to text: the bytes of one HTML page (and the charset its HTTP header declared, if
//! any) in; its visible text out, one paragraph per block, paragraphs separated by a blank
//! line, plus counts of what was decoded, replaced and dropped.
//!
//! Invariant: the text has no blank line but the one between two paragraphs, no line ends
//! in whitespace, and only a preformatted line starts with it, so `paragraph::segment` in `blank` (or
//! `auto`) mode gives back exactly the block paragraphs. Time and memory are linear in the
//! page: nothing is recursive and no tree is built, so a 50 MB page or 100,000 nested
//! elements cost what their bytes cost.
//!
//! **Charset**: a byte-order mark wins, then the HTTP header's `charset`, then a
//! `<meta charset>` or `<meta http-equiv=content-type>` in the first 1024 bytes (the HTML
//! standard's prescan), then detection: valid UTF-8 is UTF-8, anything else is what
//! `chardetng` (Firefox's detector) guesses. Invalid byte sequences become U+FFFD and are
//! counted in [`HtmlStats::replaced`]; a declared charset that is wrong shows up there.
//!
//! **Blocks**: the start and the end tag of a block element end the paragraph in progress:
//! p, h1-h6, li, blockquote, pre, td, th, div and the other elements a browser lays out as
//! blocks (lists, tables and their rows, sections, headers, footers, nav, forms, figures).
//! A div whose only content is other blocks adds no paragraph; its direct text becomes one.
//! One `<br>` is a line break inside the paragraph, two in a row (only whitespace between)
//! end it. Inline elements (a, span, b, em...) add nothing: `<b>x</b>y` is `xy`, as shown.
//! Whitespace collapses to one space, except inside pre, whose line breaks are kept (blank
//! lines inside a pre are dropped so that it stays one paragraph).
//!
//! **Dropped** with everything inside: script, style, noscript, template, svg, iframe and
//! head, plus title, noembed and noframes, which a browser never shows in the page. The
//! head needs no tracking of its own: HTML5 lets it hold only title, meta, link, base,
//! script, style, noscript and template, and text inside it closes it, so its content is
//! dropped element by element. Comments, doctypes and processing instructions add nothing.
//! Entities (`&amp;`, `&eacute;`, `&#8217;`, and the legacy ones without a semicolon) are
//! decoded by the tokenizer exactly as a browser decodes them.
//!
//! **Why html5ever's tokenizer and not a DOM.** The tokenizer is Servo's implementation of
//! the WHATWG tokenizer (the one under `scraper`, `ammonia` and `html2text`, maintained by
//! the Servo project, passing the html5lib tests), so entities, raw-text elements, CDATA,
//! broken tags and stray `<`s come out as in a browser. Its tree builder, or `scraper` on
//! top of it, would also fix misnested tags, but only to build a DOM the extraction then
//! walks: that costs several times the page in memory, and the HTML5 tree-construction
//! algorithm scans the stack of open elements on every start tag, which makes 100,000
//! nested divs take billions of steps (browsers cap the depth; html5ever does not). Text
//! extraction needs only what a tree builder tells the tokenizer (which elements hold raw
//! text, when foreign SVG/MathML content is open), and this module tracks exactly that,
//! in constant memory per token. `lol_html` streams too, but it is a rewriter: it leaves
//! entities undecoded and writes out the page it was given; `html5gum` is a fine tokenizer
//! with a single maintainer. html5ever and its atom tables add about 20 CPU-seconds to a
//! clean build, against several minutes for the Parquet and Arrow crates.

use std::cell::RefCell;

use encoding_rs::{DecoderResult, Encoding, UTF_8};
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::{LocalName, TokenizerResult};
use serde::Serialize;

/// Where the charset used to decode a page came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CharsetSource {
    /// A UTF-8 or UTF-16 byte-order mark.
    Bom,
    /// The `charset` parameter of the HTTP `Content-Type` header.
    Http,
    /// A `<meta>` tag in the first 1024 bytes.
    Meta,
    /// Nothing declared it: valid UTF-8, or `chardetng`'s guess.
    Detected,
}

/// What [`extract`] saw and did, for one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HtmlStats {
    /// Bytes of HTML in.
    pub bytes: u64,
    /// The encoding the bytes were decoded with (its WHATWG name, e.g. `UTF-8`).
    pub encoding: &'static str,
    /// Where that encoding came from.
    pub charset_source: CharsetSource,
    /// Invalid byte sequences replaced by U+FFFD while decoding.
    pub replaced: u64,
    /// Elements dropped with their content (script, style, svg...).
    pub dropped_elements: u64,
    /// Paragraphs in the text.
    pub paragraphs: u64,
}

/// A page's text and what it took to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The visible text, paragraphs separated by a blank line.
    pub text: String,
    /// Counts for the page.
    pub stats: HtmlStats,
}

/// The HTML bytes are decoded and tokenized in slices of this size, so that only the
/// text out, not a decoded copy of the whole page, grows with the page.
const CHUNK: usize = 64 * 1024;

/// How much of an undeclared, non-UTF-8 page `chardetng` reads: its guess settles long
/// before this, and reading a 50 MB page twice for it would double the cost.
const DETECT_BYTES: usize = 1 << 20;

/// Extracts the visible text of an HTML page. `http_charset` is the `charset` parameter
/// of the HTTP response's `Content-Type`, if it had one (an unknown label is ignored).
#[must_use]
pub fn extract(html: &[u8], http_charset: Option<&str>) -> Extracted {
    let (encoding, source, bom_len) = charset(html, http_charset);
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let tokenizer = Tokenizer::new(
        Sink::default(),
        TokenizerOpts {
            // the byte-order mark, if any, was skipped before decoding
            discard_bom: false,
            ..TokenizerOpts::default()
        },
    );
    let queue = BufferQueue::default();
    let mut replaced = 0u64;
    let mut decoded = String::new();
    let mut rest = &html[bom_len..];
    loop {
        let take = rest.len().min(CHUNK);
        let (chunk, after) = rest.split_at(take);
        let last = after.is_empty();
        replaced += decode_chunk(&mut decoder, chunk, last, &mut decoded);
        if !decoded.is_empty() {
            queue.push_back(decoded.as_str().into());
            decoded.clear();
            while let TokenizerResult::Script(()) = tokenizer.feed(&queue) {}
        }
        rest = after;
        if last {
            break;
        }
    }
    tokenizer.end();
    let mut state = tokenizer.sink.state.into_inner();
    state.end_paragraph();
    Extracted {
        text: state.out,
        stats: HtmlStats {
            bytes: html.len() as u64,
            encoding: encoding.name(),
            charset_source: source,
            replaced,
            dropped_elements: state.dropped_elements,
            paragraphs: state.paragraphs,
        },
    }
}

/// Decodes `chunk` onto `out`, replacing each malformed sequence by U+FFFD; returns how
/// many were replaced.
fn decode_chunk(
    decoder: &mut encoding_rs::Decoder,
    mut chunk: &[u8],
    last: bool,
    out: &mut String,
) -> u64 {
    let mut replaced = 0;
    loop {
        let need = decoder
            .max_utf8_buffer_length_without_replacement(chunk.len())
            .unwrap_or(chunk.len() * 3 + 16);
        out.reserve(need.max(4));
        let (result, read) = decoder.decode_to_string_without_replacement(chunk, out, last);
        chunk = &chunk[read..];
        match result {
            DecoderResult::InputEmpty => return replaced,
            DecoderResult::OutputFull => {}
            DecoderResult::Malformed(_, _) => {
                out.push('\u{FFFD}');
                replaced += 1;
            }
        }
    }
}

/// The encoding to decode `html` with, where it came from, and the length of the
/// byte-order mark to skip.
#[must_use]
pub fn charset(
    html: &[u8],
    http_charset: Option<&str>,
) -> (&'static Encoding, CharsetSource, usize) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(html) {
        return (encoding, CharsetSource::Bom, bom_len);
    }
    if let Some(encoding) = http_charset.and_then(|l| Encoding::for_label(l.trim().as_bytes())) {
        return (encoding, CharsetSource::Http, 0);
    }
    if let Some(encoding) = meta_charset(&html[..html.len().min(1024)]) {
        return (encoding, CharsetSource::Meta, 0);
    }
    // a page cut inside its last character is still UTF-8
    let valid = Encoding::utf8_valid_up_to(html);
    if valid == html.len()
        || (html.len() - valid < 4
            && std::str::from_utf8(&html[valid..]).is_err()
            && incomplete_utf8(&html[valid..]))
    {
        return (UTF_8, CharsetSource::Detected, 0);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let sample = &html[..html.len().min(DETECT_BYTES)];
    detector.feed(sample, sample.len() == html.len());
    (
        detector.guess(None, chardetng::Utf8Detection::Allow),
        CharsetSource::Detected,
        0,
    )
}

/// True when `tail` (at most 3 bytes) is the start of a multi-byte UTF-8 sequence.
fn incomplete_utf8(tail: &[u8]) -> bool {
    let Some(&lead) = tail.first() else {
        return false;
    };
    let want = match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return false,
    };
    tail.len() < want && tail[1..].iter().all(|&b| b & 0xC0 == 0x80)
}

/// The charset a `<meta>` tag in `head` declares, by the HTML standard's prescan, which
/// reads attributes without a full tokenizer: `<meta charset=X>`, or
/// `<meta http-equiv=content-type content="...; charset=X">`. Comments are skipped. A
/// declared UTF-16 means UTF-8 (the page could not have been read as ASCII otherwise) and
/// `x-user-defined` means windows-1252, as in browsers.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < head.len() {
        let rest = &head[i..];
        if rest.starts_with(b"<!--") {
            i += memchr::memmem::find(&rest[4..], b"-->").map_or(head.len(), |e| 4 + e + 3);
            continue;
        }
        if rest.len() > 6
            && rest[..5].eq_ignore_ascii_case(b"<meta")
            && matches!(rest[5], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/')
        {
            let (found, used) = meta_attributes(&rest[5..]);
            if let Some(encoding) = found {
                let encoding =
                    if encoding == encoding_rs::UTF_16BE || encoding == encoding_rs::UTF_16LE {
                        UTF_8
                    } else if encoding == encoding_rs::X_USER_DEFINED {
                        encoding_rs::WINDOWS_1252
                    } else {
                        encoding
                    };
                return Some(encoding);
            }
            i += 5 + used;
            continue;
        }
        i += 1;
    }
    None
}

/// Reads the attributes of one meta tag (from just after `<meta`): the encoding it
/// declares, if any, and how many bytes the tag used.
fn meta_attributes(tag: &[u8]) -> (Option<&'static Encoding>, usize) {
    let mut i = 0;
    let mut charset = None;
    let mut content_charset = None;
    let mut http_equiv_content_type = false;
    loop {
        while i < tag.len() && matches!(tag[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/') {
            i += 1;
        }
        if i >= tag.len() || tag[i] == b'>' {
            break;
        }
        let name_start = i;
        while i < tag.len()
            && !matches!(
                tag[i],
                b'=' | b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/'
            )
        {
            i += 1;
        }
        let name = tag[name_start..i].to_ascii_lowercase();
        while i < tag.len() && matches!(tag[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') {
            i += 1;
        }
        let mut value: &[u8] = b"";
        if i < tag.len() && tag[i] == b'=' {
            i += 1;
            while i < tag.len() && matches!(tag[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') {
                i += 1;
            }
            if i < tag.len() && matches!(tag[i], b'"' | b'\'') {
                let quote = tag[i];
                let start = i + 1;
                let end = memchr::memchr(quote, &tag[start..]).map_or(tag.len(), |e| start + e);
                value = &tag[start..end];
                i = (end + 1).min(tag.len());
            } else {
                let start = i;
                while i < tag.len()
                    && !matches!(tag[i], b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
                {
                    i += 1;
                }
                value = &tag[start..i];
            }
        }
        match name.as_slice() {
            b"charset" if charset.is_none() => {
                charset = Encoding::for_label(value.trim_ascii());
            }
            b"http-equiv" => {
                http_equiv_content_type = value.trim_ascii().eq_ignore_ascii_case(b"content-type");
            }
            b"content" if content_charset.is_none() => content_charset = charset_in_content(value),
            _ => {}
        }
    }
    let found = charset.or(if http_equiv_content_type {
        content_charset
    } else {
        None
    });
    (found, i)
}

/// The encoding named by `charset=` in a `content` attribute (`text/html; charset=koi8-r`).
fn charset_in_content(content: &[u8]) -> Option<&'static Encoding> {
    let lower = content.to_ascii_lowercase();
    let at = memchr::memmem::find(&lower, b"charset")?;
    let mut rest = content[at + 7..].trim_ascii_start();
    rest = rest.strip_prefix(b"=")?.trim_ascii_start();
    let value = if let Some(&q @ (b'"' | b'\'')) = rest.first() {
        let inner = &rest[1..];
        &inner[..memchr::memchr(q, inner)?]
    } else {
        let end = rest
            .iter()
            .position(|&b| matches!(b, b';' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    Encoding::for_label(value)
}

/// The token sink: the tokenizer calls it through `&self`, so the state sits in a cell.
#[derive(Default)]
struct Sink {
    state: RefCell<State>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        self.state.borrow_mut().token(token)
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        // only decides whether `<![CDATA[` opens a CDATA section
        self.state
            .borrow()
            .open
            .last()
            .is_some_and(|f| f.kind != FrameKind::Html)
    }
}

/// One element open inside foreign (SVG or MathML) content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    name: LocalName,
    kind: FrameKind,
    /// In the MathML namespace (else SVG, or HTML for `FrameKind::Html`).
    math: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    /// An SVG or MathML element.
    Foreign,
    /// An SVG or MathML element whose content is parsed as HTML (foreignObject, desc,
    /// title in SVG; mi, mo, mn, ms, mtext, annotation-xml in MathML).
    IntegrationPoint,
    /// An HTML element inside an integration point.
    Html,
}

/// Foreign content nested deeper than this is only counted, not named: enough for any
/// real drawing, and it keeps a page of a million nested `<g>`s in constant memory.
const MAX_OPEN: usize = 1 << 16;

#[derive(Default)]
struct State {
    /// The paragraphs so far.
    out: String,
    /// The paragraph in progress, whitespace already collapsed.
    paragraph: String,
    /// Whitespace was seen since the last character of the paragraph.
    space: bool,
    /// `<br>`s since the last text or block boundary.
    breaks: u32,
    /// Open pre and listing elements: whitespace is kept.
    pre: u32,
    /// The paragraph in progress holds text from inside a pre.
    preformatted: bool,
    /// The next newline is the one right after `<pre>`, which HTML ignores.
    skip_newline: bool,
    /// The raw-text element the tokenizer is inside, and whether its text is dropped.
    raw: Option<(LocalName, bool)>,
    /// Open template elements: their content is dropped.
    template: u32,
    /// Elements open inside SVG or MathML content (empty when there is none).
    open: Vec<Frame>,
    /// Foreign elements opened past `MAX_OPEN`.
    open_overflow: u64,
    /// Open svg elements in `open`: their content is dropped.
    svg: u32,
    dropped_elements: u64,
    paragraphs: u64,
}

/// Elements whose start and end end a paragraph.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "listing"
            | "td"
            | "th"
            | "tr"
            | "table"
            | "thead"
            | "tbody"
            | "tfoot"
            | "caption"
            | "section"
            | "article"
            | "aside"
            | "header"
            | "footer"
            | "nav"
            | "main"
            | "address"
            | "figure"
            | "figcaption"
            | "form"
            | "fieldset"
            | "legend"
            | "details"
            | "summary"
            | "dialog"
            | "hgroup"
            | "menu"
            | "center"
            | "hr"
            | "body"
            | "html"
            | "option"
    )
}

/// Start tags that end SVG or MathML content (the HTML standard's list for "in foreign
/// content"), unless an integration point is open.
fn breaks_out(tag: &Tag) -> bool {
    match &*tag.name {
        "b" | "big" | "blockquote" | "body" | "br" | "center" | "code" | "dd" | "div" | "dl"
        | "dt" | "em" | "embed" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "head" | "hr" | "i"
        | "img" | "li" | "listing" | "menu" | "meta" | "nobr" | "ol" | "p" | "pre" | "ruby"
        | "s" | "small" | "span" | "strong" | "strike" | "sub" | "sup" | "table" | "tt" | "u"
        | "ul" | "var" => true,
        "font" => tag
            .attrs
            .iter()
            .any(|a| matches!(&*a.name.local, "color" | "face" | "size")),
        _ => false,
    }
}

/// HTML elements that never have content, so never stay open.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "basefont"
            | "bgsound"
            | "frame"
            | "keygen"
    )
}

impl State {
    fn token(&mut self, token: Token) -> TokenSinkResult<()> {
        let skip_newline = std::mem::take(&mut self.skip_newline);
        match token {
            Token::CharacterTokens(text) => {
                let mut text: &str = &text;
                if skip_newline {
                    text = text.strip_prefix('\n').unwrap_or(text);
                }
                self.text(text);
            }
            Token::TagToken(tag) => return self.tag(&tag),
            Token::EOFToken => self.end_paragraph(),
            Token::DoctypeToken(_)
            | Token::CommentToken(_)
            | Token::NullCharacterToken
            | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }

    fn dropping(&self) -> bool {
        self.template > 0 || self.svg > 0 || self.raw.as_ref().is_some_and(|r| r.1)
    }

    fn tag(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        if let Some((name, _)) = &self.raw {
            // in raw text the tokenizer emits no tag but the one that ends it
            if tag.kind == TagKind::EndTag && tag.name == *name {
                self.raw = None;
            }
            return TokenSinkResult::Continue;
        }
        if self.open.is_empty() && self.open_overflow == 0 {
            return self.html_tag(tag);
        }
        let top = self.open.last().map_or(FrameKind::Foreign, |f| f.kind);
        let in_math = self.open.last().is_some_and(|f| f.math);
        match tag.kind {
            TagKind::StartTag => {
                let html = match top {
                    FrameKind::Html => true,
                    FrameKind::IntegrationPoint => !matches!(&*tag.name, "mglyph" | "malignmark"),
                    FrameKind::Foreign => false,
                };
                if html {
                    let name: &str = &tag.name;
                    if !tag.self_closing
                        && !is_void(name)
                        && !is_raw(name)
                        && !matches!(name, "svg" | "math")
                    {
                        self.push_frame(&tag.name, FrameKind::Html, false);
                    }
                    return self.html_tag(tag);
                }
                if breaks_out(tag) {
                    self.close_foreign();
                    return self.tag(tag);
                }
                if !tag.self_closing {
                    let math = match &*tag.name {
                        "svg" => false,
                        "math" => true,
                        _ => in_math,
                    };
                    let kind = if is_integration_point(tag, math) {
                        FrameKind::IntegrationPoint
                    } else {
                        FrameKind::Foreign
                    };
                    self.push_frame(&tag.name, kind, math);
                }
                TokenSinkResult::Continue
            }
            TagKind::EndTag => {
                if top == FrameKind::Foreign && matches!(&*tag.name, "br" | "p") {
                    self.close_foreign();
                    return self.tag(tag);
                }
                if self.open_overflow > 0 {
                    self.open_overflow -= 1;
                    return TokenSinkResult::Continue;
                }
                let Some(at) = self.open.iter().rposition(|f| f.name == tag.name) else {
                    return if top == FrameKind::Html {
                        self.html_tag(tag)
                    } else {
                        TokenSinkResult::Continue
                    };
                };
                let html = self.open[at].kind == FrameKind::Html;
                for frame in self.open.drain(at..) {
                    if frame.kind != FrameKind::Html && !frame.math && &*frame.name == "svg" {
                        self.svg -= 1;
                    }
                }
                if html {
                    return self.html_tag(tag);
                }
                TokenSinkResult::Continue
            }
        }
    }

    /// Leaves foreign content altogether, as a breakout tag does.
    fn close_foreign(&mut self) {
        self.open.clear();
        self.open_overflow = 0;
        self.svg = 0;
    }

    fn push_frame(&mut self, name: &LocalName, kind: FrameKind, math: bool) {
        if self.open.len() >= MAX_OPEN {
            self.open_overflow += 1;
            return;
        }
        if kind != FrameKind::Html && !math && &**name == "svg" {
            self.svg += 1;
        }
        self.open.push(Frame {
            name: name.clone(),
            kind,
            math,
        });
    }

    /// A tag processed by the HTML rules.
    fn html_tag(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        match tag.kind {
            TagKind::StartTag => {
                if is_block(name) {
                    self.end_paragraph();
                }
                match name {
                    "br" => self.line_break(),
                    "pre" | "listing" => {
                        self.pre += 1;
                        self.skip_newline = true;
                    }
                    "svg" | "math" => {
                        if name == "svg" {
                            self.dropped_elements += 1;
                        }
                        if !tag.self_closing {
                            self.push_frame(&tag.name, FrameKind::Foreign, name == "math");
                        }
                    }
                    "template" => {
                        self.dropped_elements += 1;
                        self.template += 1;
                    }
                    "head" => self.dropped_elements += 1,
                    _ => {}
                }
                if let Some((kind, dropped)) = raw_kind(name) {
                    if dropped {
                        self.dropped_elements += 1;
                    }
                    self.raw = Some((tag.name.clone(), dropped));
                    return match kind {
                        Some(kind) => TokenSinkResult::RawData(kind),
                        None => TokenSinkResult::Plaintext,
                    };
                }
            }
            TagKind::EndTag => {
                if is_block(name) {
                    self.end_paragraph();
                }
                match name {
                    // `</br>` is a `<br>` in every browser
                    "br" => self.line_break(),
                    "pre" | "listing" => self.pre = self.pre.saturating_sub(1),
                    "template" => self.template = self.template.saturating_sub(1),
                    _ => {}
                }
            }
        }
        TokenSinkResult::Continue
    }

    fn text(&mut self, text: &str) {
        if self.dropping() || text.is_empty() {
            return;
        }
        if self.pre > 0 {
            self.paragraph.push_str(text);
            self.preformatted = true;
            if !text.trim().is_empty() {
                self.breaks = 0;
            }
            return;
        }
        for (i, word) in text.split(|c: char| c.is_ascii_whitespace()).enumerate() {
            // every piece after the first follows whitespace
            self.space |= i > 0;
            if word.is_empty() {
                continue;
            }
            if self.space && !self.paragraph.is_empty() && !self.paragraph.ends_with('\n') {
                self.paragraph.push(' ');
            }
            self.space = false;
            self.paragraph.push_str(word);
            self.breaks = 0;
        }
    }

    fn line_break(&mut self) {
        if self.dropping() {
            return;
        }
        self.breaks += 1;
        if self.breaks >= 2 {
            self.end_paragraph();
            return;
        }
        if !self.paragraph.is_empty() {
            self.paragraph.push('\n');
        }
        self.space = false;
    }

    /// Moves the paragraph in progress, if it has any visible text, to the output.
    fn end_paragraph(&mut self) {
        self.space = false;
        self.breaks = 0;
        if self.paragraph.trim().is_empty() {
            self.paragraph.clear();
            return;
        }
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
        // line breaks stay, but a blank line would split the paragraph in two; only
        // preformatted text keeps its indentation
        let mut first = true;
        for line in self.paragraph.split('\n') {
            let line = if self.preformatted {
                line.trim_end()
            } else {
                line.trim()
            };
            if line.trim_start().is_empty() {
                continue;
            }
            if !first {
                self.out.push('\n');
            }
            first = false;
            self.out.push_str(line);
        }
        self.paragraph.clear();
        self.preformatted = false;
        self.paragraphs += 1;
    }
}

/// For an element whose content the tokenizer must read as raw text: the tokenizer state
/// (`None` for plaintext, which runs to the end), and whether the text is dropped.
fn raw_kind(name: &str) -> Option<(Option<RawKind>, bool)> {
    Some(match name {
        "script" => (Some(RawKind::ScriptData), true),
        "style" | "iframe" | "noscript" | "noembed" | "noframes" => (Some(RawKind::Rawtext), true),
        "xmp" => (Some(RawKind::Rawtext), false),
        "title" => (Some(RawKind::Rcdata), true),
        "textarea" => (Some(RawKind::Rcdata), false),
        "plaintext" => (None, false),
        _ => return None,
    })
}

fn is_raw(name: &str) -> bool {
    raw_kind(name).is_some()
}

/// Whether a foreign start tag (in MathML when `math`, else SVG) opens an element whose
/// content is parsed as HTML.
fn is_integration_point(tag: &Tag, math: bool) -> bool {
    match &*tag.name {
        "foreignobject" | "desc" | "title" => !math,
        "mi" | "mo" | "mn" | "ms" | "mtext" => math,
        "annotation-xml" => {
            math && tag.attrs.iter().any(|a| {
                &*a.name.local == "encoding"
                    && (a.value.eq_ignore_ascii_case("text/html")
                        || a.value.eq_ignore_ascii_case("application/xhtml+xml"))
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;
    use crate::paragraph::segment;
    use crate::params::SplitMode;

    fn text(html: &str) -> String {
        extract(html.as_bytes(), None).text
    }

    fn paragraphs(text: &str, mode: SplitMode) -> Vec<&str> {
        let mut spans = Vec::new();
        segment(text, mode, &mut spans);
        spans
            .iter()
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect()
    }

    #[test]
    fn blocks_become_paragraphs() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\
                    <h1>Head line</h1><p>One <b>bold</b>   word.</p>\
                    <div>direct <span>text</span><p>inner</p>tail</div>\
                    <ul><li>a</li><li>b<li>c</ul><table><tr><td>x<td>y</table>\
                    <blockquote>q</blockquote></body></html>";
        assert_eq!(
            text(html),
            "Head line\n\nOne bold word.\n\ndirect text\n\ninner\n\ntail\n\na\n\nb\n\nc\n\nx\n\ny\n\nq"
        );
    }

    #[test]
    fn divs_of_blocks_add_nothing() {
        assert_eq!(
            text("<div><div><div><p>a</p></div></div><div>  </div><p>b</p></div>"),
            "a\n\nb"
        );
    }

    #[test]
    fn dropped_elements_and_their_content() {
        let html = "<p>keep</p><script>var x = '<p>no</p>';</script><style>.a{}</style>\
                    <noscript><p>no</p></noscript><template><p>no</p><template>n</template>\
                    no</template><svg><text>no</text><g><desc><p>no</p></desc></g></svg>\
                    <iframe><p>no</p></iframe><p>also kept</p>";
        let out = extract(html.as_bytes(), None);
        assert_eq!(out.text, "keep\n\nalso kept");
        assert_eq!(out.stats.dropped_elements, 7);
        assert_eq!(out.stats.paragraphs, 2);
    }

    #[test]
    fn head_without_end_tag_and_text_before_body() {
        assert_eq!(
            text("<head><meta charset=utf-8><title>Title</title>Stray text<p>body</p>"),
            "Stray text\n\nbody"
        );
    }

    #[test]
    fn breakout_tags_end_svg() {
        // an unclosed svg ends at the first HTML block, as in a browser
        assert_eq!(
            text("<svg><circle/><text>label</text><p>visible</p>after"),
            "visible\n\nafter"
        );
        assert_eq!(text("<svg/><p>self-closed svg</p>"), "self-closed svg");
        // math is not dropped, and CDATA in foreign content is text
        assert_eq!(
            text("<p>x <math><mi>y</mi><![CDATA[z]]></math></p>"),
            "x yz"
        );
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            text(
                "<p>caf&eacute; &amp; &#8220;tea&#x201D; &lt;b&gt; &copy 2024 &nbsp;&unknown;</p>"
            ),
            "caf\u{e9} & \u{201c}tea\u{201d} <b> \u{a9} 2024 \u{a0}&unknown;"
        );
    }

    #[test]
    fn line_breaks() {
        assert_eq!(text("<p>a<br>b<br/> <br>c</p>"), "a\nb\n\nc");
        assert_eq!(text("a<br><br><br><br>b"), "a\n\nb");
        assert_eq!(
            paragraphs(&text("<p>a<br>b</p><p>c</p>"), SplitMode::Auto),
            ["a\nb", "c"]
        );
    }

    #[test]
    fn pre_keeps_lines_but_stays_one_paragraph() {
        assert_eq!(
            text("<pre>\n  fn main() {\n\n      x();\n  }\n</pre><p>after</p>"),
            "  fn main() {\n      x();\n  }\n\nafter"
        );
    }

    #[test]
    fn raw_text_is_not_markup() {
        assert_eq!(
            text(
                "<p>a</p><script>if (a < b && c > d) { document.write('</p>') }</script><textarea>x <p> y</textarea>"
            ),
            "a\n\nx <p> y"
        );
        assert_eq!(text("<xmp><b>shown</b></xmp>"), "<b>shown</b>");
        assert_eq!(text("<plaintext><p>all</p> of it"), "<p>all</p> of it");
    }

    #[test]
    fn broken_html() {
        assert_eq!(
            text("<p>unclosed <b>bold <i>both</p><p>next"),
            "unclosed bold both\n\nnext"
        );
        assert_eq!(text("<p>a < b and c<d</p>"), "a < b and c");
        assert_eq!(text("<p attr=\"unterminated>text</p>"), "");
        assert_eq!(text("</div></p>stray</span><li>item"), "stray\n\nitem");
        assert_eq!(
            text("<!-- comment <p>no</p> -->visible<!-- unterminated"),
            "visible"
        );
        assert_eq!(text(""), "");
        assert_eq!(text("just text"), "just text");
    }

    #[test]
    fn charset_from_header_then_meta_then_detection() {
        let latin1 = b"<meta charset=\"iso-8859-1\"><p>caf\xe9</p>";
        let out = extract(latin1, None);
        assert_eq!(out.text, "caf\u{e9}");
        assert_eq!(out.stats.encoding, "windows-1252");
        assert_eq!(out.stats.charset_source, CharsetSource::Meta);
        assert_eq!(out.stats.replaced, 0);

        // the header wins over the meta tag
        let koi8 = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"><p>\xd0\xd2\xc9\xd7\xc5\xd4</p>";
        let out = extract(koi8, None);
        assert_eq!(out.text, "привет");
        assert_eq!(out.stats.charset_source, CharsetSource::Meta);
        let out = extract(koi8, Some("windows-1251"));
        assert_eq!(out.stats.charset_source, CharsetSource::Http);
        assert_eq!(out.stats.encoding, "windows-1251");
        assert_ne!(out.text, "привет");

        let out = extract("<p>héllo</p>".as_bytes(), None);
        assert_eq!(
            (out.text.as_str(), out.stats.charset_source),
            ("héllo", CharsetSource::Detected)
        );
        assert_eq!(out.stats.encoding, "UTF-8");

        // undeclared windows-1251 Russian: chardetng recognises it
        let (ru, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<p>Москва — столица России, крупнейший по численности населения город страны.</p>",
        );
        let out = extract(&ru, None);
        assert_eq!(out.stats.encoding, "windows-1251");
        assert!(out.text.starts_with("Москва"), "{}", out.text);

        let bom = b"\xef\xbb\xbf<meta charset=latin1><p>\xc3\xa9</p>";
        let out = extract(bom, Some("latin1"));
        assert_eq!(
            (out.text.as_str(), out.stats.charset_source),
            ("é", CharsetSource::Bom)
        );
    }

    #[test]
    fn wrong_declared_charset_counts_replacements() {
        // declared UTF-8, actually windows-1252: each lone é byte is replaced and counted
        let html = b"<meta charset=utf-8><p>caf\xe9 cr\xe8me br\xfbl\xe9e</p>";
        let out = extract(html, Some("utf-8"));
        assert_eq!(out.text, "caf\u{fffd} cr\u{fffd}me br\u{fffd}l\u{fffd}e");
        assert_eq!(out.stats.replaced, 4);
        assert_eq!(out.stats.charset_source, CharsetSource::Http);
    }

    #[test]
    fn multibyte_characters_across_chunk_boundaries() {
        let mut html = String::from("<p>");
        while html.len() < 3 * CHUNK {
            html.push_str("é中😀 ");
        }
        html.push_str("</p>");
        let out = extract(html.as_bytes(), None);
        assert_eq!(out.stats.replaced, 0);
        assert_eq!(out.text, html[3..html.len() - 4].trim_end());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let mut html = "<div>".repeat(depth);
        html.push_str("deep");
        html.push_str(&"</div>".repeat(depth));
        html.push_str(&"<svg><g>".repeat(depth));
        html.push_str("hidden");
        html.push_str(&"<span>".repeat(depth));
        // a small stack proves nothing recurses on depth
        let out = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || extract(html.as_bytes(), None))
            .expect("spawn")
            .join()
            .expect("no overflow");
        assert_eq!(out.text, "deep");
    }

    #[test]
    fn meta_prescan() {
        assert_eq!(
            meta_charset(b"<!-- <meta charset=koi8-r> --><META CHARSET='Shift_JIS'>"),
            Some(encoding_rs::SHIFT_JIS)
        );
        assert_eq!(
            meta_charset(b"<meta content=\"text/html; charset=euc-kr\" http-equiv=content-type>"),
            Some(encoding_rs::EUC_KR)
        );
        assert_eq!(
            meta_charset(b"<meta content=\"text/html; charset=euc-kr\">"),
            None
        );
        assert_eq!(meta_charset(b"<meta charset=utf-16le>"), Some(UTF_8));
        assert_eq!(meta_charset(b"<meta name=x><p>no charset"), None);
        assert_eq!(meta_charset(b"<meta charset="), None);
    }

    /// The seed article as its site serves it: navigation as a list, the photo caption in
    /// a figure, the slider's prev/next, the doubled body as paragraphs with links,
    /// entities and an ad script between them, and the comment footer; windows-1252 bytes
    /// declared by the HTTP header, inside a WARC response record.
    fn seed_article_html(lines: &[&str]) -> String {
        let escape = |s: &str, entities: bool| {
            let s = s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            if entities {
                s.replace('\u{201c}', "&ldquo;")
                    .replace('\u{201d}', "&#8221;")
                    .replace('\u{2019}', "&rsquo;")
                    .replace('\u{2013}', "&#x2013;")
            } else {
                s
            }
        };
        let mut html = String::from(
            "<!DOCTYPE html>\n<html lang=en><head><title>Blinken: US determined to prevent ISIS \
             resurgence</title><style>.nav li{display:inline}</style>\
             <script>window.dataLayer=[];</script></head>\n<body>\n",
        );
        write!(
            html,
            "<header><nav class=menu><ul>\n  <li class=active><a href=\"/world\">{}</a></li>\n</ul></nav></header>\n",
            lines[0]
        ).expect("writing to a String");
        writeln!(
            html,
            "<figure><img src=\"blinken.jpg\" alt=\"Blinken\"><figcaption>{}</figcaption></figure>",
            escape(lines[1], true)
        )
        .expect("writing to a String");
        write!(
            html,
            "<div class=slider><div><span>{}</span></div><div><span>{}</span></div></div>\n\
             <svg width=10 height=10><path d=\"M0 0\"/><text>arrow</text></svg>\n<article>\n",
            lines[2], lines[3]
        )
        .expect("writing to a String");
        for (i, line) in lines[4..23].iter().enumerate() {
            let mut p = escape(line, i % 2 == 0);
            // an inline link inside a sentence must not split it
            if let Some(at) = p.find("Blinken") {
                p.replace_range(at..at + 7, "<a href=\"/tag/blinken\">Blinken</a>");
            }
            write!(html, "  <p>\n    {p}\n  </p>\n").expect("writing to a String");
            if i == 9 {
                html.push_str("  <div class=ad><script>document.write('<p>Advertisement</p>')</script><noscript><p>Enable JS</p></noscript></div>\n");
            }
        }
        write!(
            html,
            "</article>\n<footer><section class=comments><h3>{}</h3>\n<ul>",
            lines[23]
        )
        .expect("writing to a String");
        for line in &lines[24..28] {
            writeln!(html, "<li>{}", escape(line, true)).expect("writing to a String");
        }
        write!(
            html,
            "</ul><div class=form><textarea hidden></textarea><button>{}</button></div></section></footer>\n\
             <iframe src=\"/social\"><p>Share</p></iframe><template><p>Reply</p></template></body></html>\n",
            lines[28]
        ).expect("writing to a String");
        html
    }

    #[test]
    fn seed_article_html_gives_the_text_versions_paragraphs() {
        let text = include_str!("../../data/seed-article.txt");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 29);
        let html = seed_article_html(&lines);
        let (body, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&html);
        assert!(!unmappable, "the article is all windows-1252");
        let warc = crate::input::warc::writer::response(
            "<urn:uuid:seed>",
            "https://www.rudaw.net/english/world/09122024",
            "Content-Type: text/html; charset=windows-1252\r\n",
            &body,
        );
        let record = crate::input::warc::WarcReader::open(&warc[..])
            .expect("open")
            .next()
            .expect("one record")
            .expect("valid");
        let http = record.http_response().expect("http");
        assert_eq!(http.is_html(), Ok(true));
        let payload = http.payload().expect("payload");
        let out = extract(&payload, http.charset().as_deref());
        assert_eq!(out.stats.charset_source, CharsetSource::Http);
        assert_eq!(out.stats.replaced, 0);
        // head, title, style, the head's script, svg, the ad's script and noscript, iframe,
        // template
        assert_eq!(out.stats.dropped_elements, 9);
        assert_eq!(
            paragraphs(&out.text, SplitMode::Auto),
            paragraphs(text, SplitMode::Auto)
        );
        assert_eq!(paragraphs(&out.text, SplitMode::Auto), lines);
        assert_eq!(out.stats.paragraphs, 29);
    }

    #[test]
    fn a_50_mb_page() {
        let mut html = String::from("<html><body>");
        let mut n = 0u64;
        while html.len() < 50 << 20 {
            writeln!(
                html,
                "<div><p>Paragraph {n} of a long page, with <b>inline</b> markup &amp; an \
                 entity.</p><script>var n = {n};</script></div>"
            )
            .expect("writing to a String");
            n += 1;
        }
        let out = extract(html.as_bytes(), None);
        assert_eq!(out.stats.paragraphs, n);
        assert_eq!(out.stats.dropped_elements, n);
        let mut paragraphs = out.text.split("\n\n");
        assert_eq!(
            paragraphs.next(),
            Some("Paragraph 0 of a long page, with inline markup & an entity.")
        );
        assert_eq!(
            paragraphs.last().map(str::to_owned),
            Some(format!(
                "Paragraph {} of a long page, with inline markup & an entity.",
                n - 1
            ))
        );
    }
}
