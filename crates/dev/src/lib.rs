//! Embedded stand-ins for the outside world, for authgate's demo, tests and benchmarks: an
//! Auth0-style dev tenant and an echo backend. Not a production identity provider.
//!
//! It shares no code with the gateway: it parses request bodies, checks PKCE and names grants
//! with its own copies (`wire`), as a real tenant would, so a bug in the gateway's own cannot
//! hide in the fake it is tested against. Its settings are plain values (`Settings`): the
//! gateway turns its `dev_tenant` configuration into them.

pub mod echo;
mod settings;
mod signer;
pub mod tenant;
mod wire;

pub use settings::{ClientAuth, ClientSettings, ManagementClient, Password, Secret, Settings, UserSettings};
pub use signer::Signer;
