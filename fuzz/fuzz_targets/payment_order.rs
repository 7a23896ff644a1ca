//! Payment order validation: a request decodes and validates, or is refused naming
//! the field. An accepted order's amount is a positive integer within the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_abi::payment::PaymentRequest;
use miniapp_host::capability::decode_request;
use miniapp_host::capabilities::payment::order;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = decode_request::<PaymentRequest>(data) else { return };
    let currencies = vec!["CNY".to_string()];
    for cap in [1, 50_000, 5_000_000, i64::MAX] {
        if let Ok(valid) = order::validate(&request, cap, &currencies) {
            assert!(valid.amount > 0 && valid.amount <= cap);
            assert!(valid.description.len() <= 127);
        }
    }
});
