//! Why a guest was ended: a broken limit or a violation of the ABI.

/// A limit whose breach ends the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `limits.memory_bytes`.
    Memory,
    /// `limits.table_elements`.
    TableElements,
    /// `engine.wasm_stack_bytes`.
    WasmStack,
    /// `limits.launch_time_ms`.
    LaunchTime,
    /// `limits.callback_time_ms`.
    CallbackTime,
    /// `limits.fuel_per_callback`.
    Fuel,
    /// `limits.host_calls_per_callback`.
    HostCalls,
    /// `limits.message_bytes`.
    MessageBytes,
    /// `limits.output_bytes`.
    OutputBytes,
    /// `engine.max_live_programs`.
    LivePrograms,
}

impl LimitKind {
    /// The configuration key that sets this limit.
    pub fn key(self) -> &'static str {
        match self {
            LimitKind::Memory => "limits.memory_bytes",
            LimitKind::TableElements => "limits.table_elements",
            LimitKind::WasmStack => "engine.wasm_stack_bytes",
            LimitKind::LaunchTime => "limits.launch_time_ms",
            LimitKind::CallbackTime => "limits.callback_time_ms",
            LimitKind::Fuel => "limits.fuel_per_callback",
            LimitKind::HostCalls => "limits.host_calls_per_callback",
            LimitKind::MessageBytes => "limits.message_bytes",
            LimitKind::OutputBytes => "limits.output_bytes",
            LimitKind::LivePrograms => "engine.max_live_programs",
        }
    }

    /// What is limited, in words.
    pub fn describe(self) -> &'static str {
        match self {
            LimitKind::Memory => "memory",
            LimitKind::TableElements => "table size",
            LimitKind::WasmStack => "wasm stack",
            LimitKind::LaunchTime => "launch time",
            LimitKind::CallbackTime => "callback time",
            LimitKind::Fuel => "fuel",
            LimitKind::HostCalls => "host calls per callback",
            LimitKind::MessageBytes => "message size",
            LimitKind::OutputBytes => "output per callback",
            LimitKind::LivePrograms => "live programs",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            LimitKind::Memory | LimitKind::WasmStack | LimitKind::MessageBytes | LimitKind::OutputBytes => " bytes",
            LimitKind::LaunchTime | LimitKind::CallbackTime => " ms",
            LimitKind::TableElements => " elements",
            LimitKind::Fuel => " units",
            LimitKind::HostCalls => " calls",
            LimitKind::LivePrograms => " programs",
        }
    }
}

/// Why a guest was ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A hard limit was exceeded.
    #[error("exceeded the {} limit of {value}{} ({})", kind.describe(), kind.unit(), kind.key())]
    Limit {
        /// Which limit.
        kind: LimitKind,
        /// The limit's value.
        value: u64,
    },
    /// The guest broke the ABI's rules (bad pointer, bad allocator answer, …).
    #[error("violated the ABI: {0}")]
    Abi(String),
    /// The guest called the host while it was being pre-initialised: what runs
    /// then is shared by every session, which no user's or session's answer may be.
    #[error(
        "called the host while its files were evaluated for pre-initialisation (code at the top of a file \
         runs once and is shared by every session: call the host from onLaunch or a page's methods)"
    )]
    HostCallBeforeLaunch,
}

impl Fault {
    /// A limit fault.
    pub fn limit(kind: LimitKind, value: u64) -> Fault {
        Fault::Limit { kind, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_faults_name_the_limit_and_value() {
        let text = Fault::limit(LimitKind::Memory, 1 << 20).to_string();
        assert_eq!(text, "exceeded the memory limit of 1048576 bytes (limits.memory_bytes)");
    }
}
