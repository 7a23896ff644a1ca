//! The guest→host message decoder, as every host call's request type: any bytes
//! decode or are refused with `invalid_argument`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_abi::{ErrorCode, identity, link, payment, storage, view};
use miniapp_host::capability::decode_request;
use serde::de::DeserializeOwned;

fn decode<T: DeserializeOwned>(data: &[u8]) {
    if let Err(error) = decode_request::<T>(data) {
        assert_eq!(error.code, ErrorCode::InvalidArgument);
    }
}

fuzz_target!(|data: &[u8]| {
    decode::<storage::SetRequest>(data);
    decode::<storage::KeyRequest>(data);
    decode::<link::OpenRequest>(data);
    decode::<link::ShareRequest>(data);
    decode::<identity::AuthorizeRequest>(data);
    decode::<payment::PaymentRequest>(data);
    decode::<payment::QueryRequest>(data);
    decode::<view::PageRequest>(data);
    decode::<view::BackRequest>(data);
    decode::<serde_json::Value>(data);
});
