//! Memory and table growth limits for one guest.

use super::fault::{Fault, LimitKind};
use crate::config::Limits;

/// Refuses growth past the program's limits by ending the guest (rather than
/// letting `memory.grow` return -1), so a breach is reported with the limit's name.
pub(super) struct GuestLimiter {
    memory_bytes: u64,
    table_elements: u64,
    fault: Option<Fault>,
}

impl GuestLimiter {
    pub(super) fn new(limits: &Limits) -> GuestLimiter {
        GuestLimiter { memory_bytes: limits.memory_bytes, table_elements: limits.table_elements, fault: None }
    }

    pub(super) fn take_fault(&mut self) -> Option<Fault> {
        self.fault.take()
    }

    fn refuse(&mut self, fault: Fault) -> wasmtime::Result<bool> {
        let error = wasmtime::Error::new(fault.clone());
        self.fault.get_or_insert(fault);
        Err(error)
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            return self.refuse(Fault::limit(LimitKind::Memory, self.memory_bytes));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.table_elements {
            return self.refuse(Fault::limit(LimitKind::TableElements, self.table_elements));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
