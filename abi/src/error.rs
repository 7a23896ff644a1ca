//! Stable error codes returned to guests as values.
//!
//! Codes never change meaning and are never reused; new codes are an additive
//! (minor) ABI change. A guest that does not know a code must treat it like
//! [`ErrorCode::Internal`].

use serde::{Deserialize, Serialize};

/// Why a host call did not succeed. Each code has a stable number (the host
/// function's return value) and a stable string (the `code` field of the error
/// message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed: not UTF-8, not JSON, wrong shape, a value out of range.
    InvalidArgument,
    /// A gate said no: not declared in the manifest, not allowed by host policy, or
    /// not consented to by the user.
    CapabilityDenied,
    /// The user was asked and declined or dismissed the prompt.
    UserCancelled,
    /// The program's storage (or another metered resource) is full.
    QuotaExceeded,
    /// A per-call limit was hit that does not end the program (e.g. too many keys listed).
    LimitExceeded,
    /// The service is temporarily unavailable; retrying later may succeed.
    Unavailable,
    /// The host failed; the request may or may not have taken effect.
    Internal,
    /// The thing asked about does not exist.
    NotFound,
    /// The same idempotency key was used with different parameters.
    IdempotencyConflict,
    /// The host function exists in a newer ABI minor version than this host implements.
    Unsupported,
}

impl ErrorCode {
    /// Every code, in number order.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidArgument,
        ErrorCode::CapabilityDenied,
        ErrorCode::UserCancelled,
        ErrorCode::QuotaExceeded,
        ErrorCode::LimitExceeded,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::NotFound,
        ErrorCode::IdempotencyConflict,
        ErrorCode::Unsupported,
    ];

    /// The stable number of this code, as returned by host functions (never 0).
    pub fn number(self) -> i32 {
        match self {
            ErrorCode::InvalidArgument => 1,
            ErrorCode::CapabilityDenied => 2,
            ErrorCode::UserCancelled => 3,
            ErrorCode::QuotaExceeded => 4,
            ErrorCode::LimitExceeded => 5,
            ErrorCode::Unavailable => 6,
            ErrorCode::Internal => 7,
            ErrorCode::NotFound => 8,
            ErrorCode::IdempotencyConflict => 9,
            ErrorCode::Unsupported => 10,
        }
    }

    /// The code with this number, if any.
    pub fn from_number(number: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.number() == number)
    }

    /// The stable string of this code, e.g. `quota_exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::CapabilityDenied => "capability_denied",
            ErrorCode::UserCancelled => "user_cancelled",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::NotFound => "not_found",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::Unsupported => "unsupported",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a value: the body of a host function's reply when its status is not 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation naming the problem; not stable, not for matching.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// Shorthand for an [`ErrorCode::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidArgument, message)
    }

    /// Shorthand for an [`ErrorCode::CapabilityDenied`] error.
    pub fn capability_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::CapabilityDenied, message)
    }

    /// Shorthand for an [`ErrorCode::Internal`] error.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_are_stable_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (index, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code.number(), index as i32 + 1);
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(seen.insert(code.as_str()));
        }
        assert_eq!(ErrorCode::from_number(0), None);
    }
}
