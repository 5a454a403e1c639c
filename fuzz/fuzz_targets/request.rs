//! Arbitrary request bodies through the server's JSON reader and the one validation boundary
//! (`RawParams::validate`): every body is accepted as valid parameters or refused with a 4xx error.
#![no_main]

use http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use textgen_server::request::{json_object, Fields};

/// The default model's vocabulary size, so token-id checks run against a real bound.
const VOCAB: usize = 49_152;

fuzz_target!(|body: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let map = match json_object(&headers, body) {
        Ok(m) => m,
        Err(e) => {
            assert!(e.status.is_client_error(), "{e:?}");
            return;
        }
    };
    let mut fields = Fields::new(map);
    let checked = fields
        .sampling(16)
        .and_then(|raw| fields.finish().map(|()| raw))
        .and_then(|raw| raw.validate(VOCAB, || 7).map_err(Into::into));
    if let Err(e) = checked {
        assert!(e.status.is_client_error(), "{e:?}");
    }
});
