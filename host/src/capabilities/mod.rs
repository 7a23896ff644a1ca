//! The built-in capabilities, each one module written against the capability
//! core (`crate::capability`) exactly as an embedder's would be. [`builtin`] is
//! the one place they are registered: adding a built-in capability is its module
//! here, its module in the SDK, and one line below.

pub mod identity;
pub mod link;
pub mod payment;
pub mod storage;
pub mod view;

use crate::capability::Init;
use payment::provider::ProviderPlugin;
use std::sync::Arc;

/// The built-in capabilities, with payment paying through `providers`.
pub fn builtin(providers: Vec<Arc<dyn ProviderPlugin>>) -> Vec<Init> {
    vec![
        Box::new(storage::init),
        Box::new(link::init),
        Box::new(identity::init),
        Box::new(move |context| payment::init(context, providers)),
        Box::new(view::init),
    ]
}
