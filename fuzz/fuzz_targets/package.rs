//! The package reader: any bytes are verified or refused naming a part, never
//! a panic; what is accepted holds a valid manifest and exactly the module it
//! names, every entry cut from the input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniapp_host::package::{self, Role};

fuzz_target!(|data: &[u8]| {
    match package::verify(data, "fuzz.mpkg") {
        Ok(verified) => {
            let entries = &verified.contents.entries;
            let total: usize = entries.iter().map(|e| e.bytes.len()).sum();
            assert!(total <= data.len());
            assert_eq!(entries.iter().filter(|e| e.role == Role::Module).count(), 1);
            assert_eq!(entries[0].role, Role::Manifest);
            assert_eq!(package::entry_name(&verified.contents.manifest.module), entries[1..].iter().find(|e| e.role == Role::Module).map(|e| e.name.clone()).unwrap_or_default());
        }
        Err(error) => {
            assert!(!error.part().is_empty());
            assert!(!error.to_string().is_empty());
        }
    }
});
