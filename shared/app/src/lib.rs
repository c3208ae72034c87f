//! Use cases of tenant onboarding, their AWS adapters, configuration, telemetry and the HTTP
//! error mapping. Function binaries stay thin: they build [`usecases::Services`] once and call in.

pub mod aws;
pub mod config;
pub mod error;
pub mod http;
pub mod keys;
pub mod records;
pub mod stripe;
pub mod telemetry;
pub mod usecases;

pub use usecases::Services;
