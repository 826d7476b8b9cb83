//! Deterministic in-memory network simulator (feature `sim`): links with
//! seeded faults, a virtual clock that jumps to the next event, and a driver
//! running endpoints over them. The same seed gives the same run.

pub mod data;
pub mod link;
pub mod net;
pub mod rng;

pub use data::{pattern_fill, PatternSink, PatternSource, Transfer};
pub use link::{GilbertElliott, Link, LinkConfig, LinkStats};
pub use net::{Endpoint, EndpointStats, NetStats, Network, Outcome, RunLimits, Status};
pub use rng::SimRng;
pub mod stack_ep;
pub use stack_ep::TcpkitEndpoint;
pub mod sweep;
pub use sweep::Scenario;
