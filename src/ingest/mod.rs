//! Wire formats in, change sets out.
//!
//! Each producer protocol has its own submodule with serde types that mirror the protocol, and a
//! translation into a [`crate::model::ChangeSet`]. Parsing is pure and synchronous: no I/O, so
//! every rule can be unit-tested against captured payloads.

pub mod json;
pub mod openlineage;
pub mod spline;
