//! The low floor: the words every part of the gateway speaks (a request and its reply, the
//! OAuth-style error, request bodies, cookies, hex). It imports nothing of the gateway's.

pub(crate) mod body;
pub(crate) mod cookies;
pub(crate) mod error;
pub(crate) mod exchange;
pub(crate) mod hex;
