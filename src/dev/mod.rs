//! Embedded stand-ins for the outside world, for the demo, the tests and the benchmarks:
//! an Auth0-style dev tenant and an echo backend. Not a production identity provider.

pub mod echo;
pub mod tenant;
