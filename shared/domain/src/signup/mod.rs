//! Signup input: validated newtypes for each field and the validation of a whole request.
//!
//! Every parser rejects control characters anywhere in its input, trims surrounding
//! whitespace, and returns a [`FieldError`] whose message explains how to fix the value.

mod choices;
mod company;
mod disposable;
mod email;
mod error;
mod request;
mod subdomain;

pub use choices::{Plan, Residency, ServedRegions, ServedRegionsError, UseCase};
pub use company::{CompanyName, MAX_COMPANY_NAME_LENGTH, MIN_COMPANY_NAME_LENGTH};
pub use disposable::DisposableDomains;
pub use email::{EmailAddress, MAX_EMAIL_LENGTH, MAX_LOCAL_PART_LENGTH};
pub(crate) use error::required_trimmed;
pub use error::{codes, FieldError, ValidationErrors};
pub use request::{SignupRequest, ValidSignup};
pub use subdomain::{is_reserved_subdomain, Subdomain, MAX_SUBDOMAIN_LENGTH, MIN_SUBDOMAIN_LENGTH};
