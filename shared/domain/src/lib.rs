//! Pure types and rules of tenant onboarding: validated newtypes, the tenant lifecycle,
//! identifiers and signup validation. The crate does no I/O and has no dependency on AWS.

pub mod ids;
pub mod lifecycle;
pub mod signup;
