//! The WARC reader on arbitrary bytes (plain, or gzip/zstd by their magic): reading never
//! panics and ends; records come with increasing indices and offsets; a fatal error is
//! the last item; every record's block is at most the size limit; parsing a block as HTTP
//! and taking its payload never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::input::warc::WarcReader;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = WarcReader::open(data) else {
        return;
    };
    let max = 1 << 16;
    let mut last: Option<(u64, u64)> = None;
    let mut fatal = false;
    for item in reader.max_record_bytes(max) {
        assert!(!fatal, "nothing comes after a fatal error");
        match item {
            Ok(record) => {
                if let Some((index, offset)) = last {
                    assert!(record.index > index && record.offset > offset);
                }
                last = Some((record.index, record.offset));
                assert!(record.block.len() as u64 <= max);
                assert_eq!(record.content_length(), record.block.len() as u64);
                let _ = record.kind();
                let _ = record.conversion_text();
                if let Ok(http) = record.http_response() {
                    let _ = http.media_type();
                    let _ = http.charset();
                    let _ = http.is_html();
                    let _ = http.payload();
                }
            }
            Err(e) => fatal = e.is_fatal(),
        }
    }
});
