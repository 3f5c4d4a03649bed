//! Routing: the path normaliser, the gateway's own endpoints as data, the routes' policies,
//! and the one router that decides what a request is.

pub(crate) mod endpoints;
pub(crate) mod path;
pub(crate) mod policy;
pub(crate) mod router;
